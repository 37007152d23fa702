import { randomUUID } from "node:crypto";
import { Prisma, type PrismaClient } from "../../prisma/generated/client.ts";

/** A user with every scalar type set, two posts, tags and a comment; unique per call. */
export async function seedUser(base: PrismaClient, overrides: Partial<Prisma.UserCreateInput> = {}) {
  const tag = randomUUID().slice(0, 8);
  return base.user.create({
    data: {
      email: `${tag}@example.com`,
      name: `User ${tag}`,
      role: "ADMIN",
      balance: new Prisma.Decimal("1234567.890123"),
      visits: 9007199254740993n,
      score: 0.1 + 0.2,
      avatar: new Uint8Array([0, 1, 2, 254, 255]),
      profile: { nested: [1, null, { deep: null, list: ["a"] }], flag: true },
      createdAt: new Date("2024-02-29T12:34:56.789Z"),
      posts: {
        create: [
          { slug: `first-${tag}`, title: "First", published: true, tags: { create: [{ name: `t1-${tag}` }, { name: `t2-${tag}` }] } },
          { slug: `second-${tag}`, title: "Second" },
        ],
      },
      ...overrides,
    },
    // Ordered: tests pick posts by position ("First" is published), and a table with churn returns rows in any order.
    include: { posts: { orderBy: { id: "asc" } } },
  });
}
