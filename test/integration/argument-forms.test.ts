import { PrismaPg } from "@prisma/adapter-pg";
import { skip } from "@prisma/client/runtime/client";
import { afterAll, describe, expect, it } from "vitest";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { databaseUrl } from "../helpers/databases.ts";
import { seedUser } from "../helpers/seed.ts";

/**
 * Arguments Prisma reads in ways of its own, each asked after the query whose entry the cache
 * would have answered it with: the answer must be Prisma's, value or error (outside probe 274).
 */
describe("arguments Prisma reads its own way, asked after a query they resemble was cached", () => {
  const c = createCachedClient({ models: { User: true, Post: true } });
  afterAll(() => c.close());

  it("Prisma.skip in an array is refused, not answered as an empty object", async () => {
    const user = await seedUser(c.base);
    for (let i = 0; i < 2; i++) {
      expect(await c.prisma.user.findMany({ where: { OR: [{ id: user.id }, {}] } })).not.toHaveLength(0);
      await expect(c.prisma.user.findMany({ where: { OR: [{ id: user.id }, skip as never] } })).rejects.toThrow("Prisma.skip");
      await expect(c.prisma.user.count({ where: { AND: [{ id: user.id }, skip as never] } })).rejects.toThrow("Prisma.skip");
    }
  });

  it("an object with a $type member is sent as raw JSON: its skipped member as {}, its inherited ones not at all", async () => {
    const tagged = await seedUser(c.base, { profile: { $type: "Order" } });
    const where = (equals: object) => ({ id: tagged.id, profile: { equals } });
    class InheritsNote {
      $type = "Order";
    }
    (InheritsNote.prototype as unknown as { note: object }).note = {};
    for (let i = 0; i < 2; i++) {
      expect(await c.prisma.user.findMany({ where: where({ $type: "Order" }) })).toHaveLength(1);
      // Sent as {"$type":"Order","note":{}}, which the row is not.
      expect(await c.prisma.user.findMany({ where: where({ $type: "Order", note: skip }) })).toHaveLength(0);
      expect(await c.base.user.findMany({ where: where({ $type: "Order", note: skip }) })).toHaveLength(0);
      // Sent as {"$type":"Order"}: the inherited member is not.
      expect(await c.prisma.user.findMany({ where: where({ $type: "Order", note: {} }) })).toHaveLength(0);
      expect(await c.prisma.user.findMany({ where: where(new InheritsNote()) })).toHaveLength(1);
      expect(await c.base.user.findMany({ where: where(new InheritsNote()) })).toHaveLength(1);
    }
  });

  it("a filter a DTO's toJSON() answers is sent as that answer's JSON: a skipped member as {}", async () => {
    const user = await seedUser(c.base, { profile: { a: 1 } });
    class Filter {
      constructor(readonly answer: object) {}
      toJSON() {
        return this.answer;
      }
    }
    const where = (filter: Filter) => ({ id: user.id, profile: filter as never });
    for (let i = 0; i < 2; i++) {
      expect(await c.prisma.user.findMany({ where: where(new Filter({ equals: { a: 1 } })) })).toHaveLength(1);
      // Sent as {"equals":{"a":1,"b":{}}}, which the row is not.
      expect(await c.base.user.findMany({ where: where(new Filter({ equals: { a: 1, b: skip } })) })).toHaveLength(0);
      expect(await c.prisma.user.findMany({ where: where(new Filter({ equals: { a: 1, b: skip } })) })).toHaveLength(0);
    }
  });

  it("a boxed primitive in what a DTO's toJSON() answers is sent as the primitive (outside probe 278)", async () => {
    const user = await seedUser(c.base, { profile: { n: 1 } });
    const wrap = (answer: object) => ({ toJSON: () => answer }) as never;
    for (let i = 0; i < 2; i++) {
      expect(await c.prisma.user.findMany({ where: { id: user.id, profile: wrap({ path: ["n"], equals: new Number(1) }) } })).toHaveLength(1);
      expect(await c.prisma.user.findMany({ where: { id: user.id, profile: wrap({ path: ["n"], equals: new Number(2) }) } })).toHaveLength(0);
      expect(await c.prisma.user.findMany({ where: wrap({ id: { in: [new Number(user.id)] } }) })).toHaveLength(1);
    }
  });

  it("null arguments are refused as Prisma refuses them, not answered as no arguments", async () => {
    for (let i = 0; i < 2; i++) {
      await c.prisma.post.count();
      await expect(c.prisma.post.count(null as never)).rejects.toThrow(TypeError);
      await c.prisma.post.findMany({ take: 1 });
      await c.prisma.post.findMany();
      await expect(c.prisma.post.findMany(null as never)).rejects.toThrow(TypeError);
    }
  });

  it("omit: { field: Prisma.skip } under a client-wide omit selects the field, and omit: {} does not", async () => {
    const redis = createRedis();
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl() }), omit: { user: { email: true } } });
    const prisma = base.$extends(cacheExtension({ redis, namespace: uniqueNamespace(), models: { User: true } }));
    try {
      const user = await seedUser(c.base);
      const where = { id: user.id };
      for (let i = 0; i < 2; i++) {
        // Each first, in turn: the other must not be answered with its entry.
        const first = i === 0 ? { email: skip } : {};
        const second = i === 0 ? {} : { email: skip };
        const read = (omit: object) => prisma.user.findUnique({ where, omit: omit as never });
        const plain = (omit: object) => base.user.findUnique({ where, omit: omit as never });
        expect(Object.keys((await read(first))!)).toEqual(Object.keys((await plain(first))!));
        expect(Object.keys((await read(second))!)).toEqual(Object.keys((await plain(second))!));
        await prisma.user.update({ where, data: { name: `round ${i}` } });
      }
      // What the test relies on: Prisma selects the field for the one, not for the other.
      expect(await base.user.findUnique({ where, omit: { email: skip } as never })).toHaveProperty("email");
      expect(await base.user.findUnique({ where, omit: {} })).not.toHaveProperty("email");
    } finally {
      await prisma.$cache.close();
      await base.$disconnect();
      redis.disconnect();
    }
  });
});
