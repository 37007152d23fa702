// The demo's data set: users with posts, covering the types a cache must hand back unchanged
// (Decimal, BigInt, Json, Bytes, DateTime). Rows are tagged so that the demo can remove exactly
// its own rows from a database it does not own.
import { Prisma, type PrismaClient } from "../../prisma/generated/client.ts";

export const USERS = 200;
const POSTS_PER_USER = 5;

/** Inserts the users and their posts; returns the user ids. */
export async function seed(prisma: PrismaClient, tag: string): Promise<number[]> {
  const users = await prisma.user.createManyAndReturn({
    select: { id: true },
    data: Array.from({ length: USERS }, (_, i) => ({
      email: `${tag}-${i}@example.test`,
      name: `User ${i}`,
      role: i % 20 === 0 ? "ADMIN" : "USER",
      balance: new Prisma.Decimal(i).mul("1234.567891").toFixed(6),
      visits: 9_007_199_254_740_993n + BigInt(i),
      score: i / 7,
      avatar: Uint8Array.of(i % 256, 0xca, 0xfe),
      profile: { locale: i % 2 === 0 ? "en" : "de", tags: ["demo", `cohort-${i % 5}`], referrer: null },
    })),
  });
  await prisma.post.createMany({
    data: users.flatMap(({ id }) =>
      Array.from({ length: POSTS_PER_USER }, (_, j) => ({ authorId: id, slug: `post-${j}`, title: `Post ${j} by user ${id}`, published: j % 2 === 0 })),
    ),
  });
  return users.map(({ id }) => id);
}

/** Deletes the tagged users; their posts go with them (ON DELETE CASCADE). */
export async function unseed(prisma: PrismaClient, tag: string): Promise<void> {
  await prisma.user.deleteMany({ where: { email: { startsWith: `${tag}-` } } });
}
