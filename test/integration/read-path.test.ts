import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

type Seeded = Awaited<ReturnType<typeof seedUser>>;

describe("cached read path (L1 → Redis → Postgres)", () => {
  const namespace = uniqueNamespace();
  const a = createCachedClient({ namespace });
  let user: Seeded;

  beforeAll(async () => {
    user = await seedUser(a.base);
  });
  afterAll(() => a.close());

  // Every cached operation with shapes that exercise the codec: select, include, _count, aggregates.
  const reads: Array<[string, (p: typeof a.prisma) => PromiseLike<unknown>]> = [
    ["findUnique", (p) => p.user.findUnique({ where: { id: user.id } })],
    ["findUnique by unique email with include", (p) => p.user.findUnique({ where: { email: user.email }, include: { posts: { include: { tags: true } } } })],
    ["findUniqueOrThrow with select and _count", (p) => p.user.findUniqueOrThrow({ where: { id: user.id }, select: { email: true, balance: true, _count: { select: { posts: true } } } })],
    ["findUnique by composite unique", (p) => p.post.findUnique({ where: { authorId_slug: { authorId: user.id, slug: user.posts[0]!.slug } } })],
    ["findFirst", (p) => p.post.findFirst({ where: { authorId: user.id }, orderBy: { id: "desc" } })],
    ["findFirstOrThrow", (p) => p.post.findFirstOrThrow({ where: { authorId: user.id, published: true }, include: { author: true } })],
    ["findMany", (p) => p.post.findMany({ where: { authorId: user.id }, include: { tags: true }, orderBy: { id: "asc" } })],
    ["count", (p) => p.post.count({ where: { authorId: user.id } })],
    ["aggregate", (p) => p.user.aggregate({ where: { id: user.id }, _sum: { balance: true, visits: true }, _avg: { score: true }, _max: { createdAt: true }, _count: { _all: true } })],
    ["groupBy", (p) => p.post.groupBy({ by: ["published"], where: { authorId: user.id }, _count: { _all: true }, orderBy: { published: "asc" } })],
  ];

  for (const [name, read] of reads) {
    it(`${name}: equal to Prisma's uncached result from the database, from L1 and from Redis`, async () => {
      const expected = await read(a.base as never);
      const before = a.pool.queries;
      const fromDb = await read(a.prisma);
      expect(a.pool.queries).toBeGreaterThan(before);
      const afterLoad = a.pool.queries;
      const fromL1 = await read(a.prisma);
      // A second instance sharing Redis: its L1 is empty, so this is served by L2.
      const b = createCachedClient({ namespace, redis: a.redis });
      try {
        const fromL2 = await read(b.prisma);
        expect(b.pool.queries).toBe(0);
        expect(b.prisma.$cache.stats().l2Hits).toBe(1);
        expect(fromL2).toEqual(expected);
      } finally {
        await b.close();
      }
      expect(a.pool.queries).toBe(afterLoad);
      expect(fromDb).toEqual(expected);
      expect(fromL1).toEqual(expected);
    });
  }

  it("returns real Prisma types from both tiers: Decimal, Date, BigInt, Uint8Array", async () => {
    const fromL1 = (await a.prisma.user.findUnique({ where: { id: user.id } }))!;
    expect(fromL1.balance).toBeInstanceOf(Prisma.Decimal);
    expect(fromL1.balance.toFixed(6)).toBe("1234567.890123");
    expect(fromL1.createdAt).toBeInstanceOf(Date);
    expect(fromL1.visits).toBe(9007199254740993n);
    expect(fromL1.avatar).toBeInstanceOf(Uint8Array);
    expect(fromL1.profile).toEqual({ nested: [1, null, { deep: null, list: ["a"] }], flag: true });
  });

  it("hands every caller its own copy: mutating a result does not change the cache", async () => {
    const first = (await a.prisma.user.findUnique({ where: { id: user.id } }))!;
    first.name = "mutated";
    first.createdAt.setTime(0);
    // decimal.js keeps a Decimal's digits in an array (plain Prisma makes a new Decimal per result).
    (first.balance as unknown as { d: number[] }).d[0] = 7;
    for (let i = 0; i < 6; i++) {
      // Past the hit at which an entry's copier is planned (the 4th): the generic copy and the planned one both copy it.
      const again = (await a.prisma.user.findUnique({ where: { id: user.id } }))!;
      expect(again.name).toBe(user.name);
      expect(again.createdAt.getTime()).toBe(user.createdAt.getTime());
      expect(again.balance.toString()).toBe(user.balance.toString());
      (again.balance as unknown as { d: number[] }).d[0] = 7;
    }
  });

  it("hands every caller of an L2 hit its own copy: alone, sharing a lookup, or filling L1", async () => {
    const read = (client: typeof a) => client.prisma.user.findUnique({ where: { id: user.id } });
    const spoil = (row: Awaited<ReturnType<typeof read>>) => {
      row!.name = "mutated";
      row!.createdAt.setTime(0);
    };
    const unspoilt = (row: Awaited<ReturnType<typeof read>>) => {
      expect(row!.name).toBe(user.name);
      expect(row!.createdAt.getTime()).toBe(user.createdAt.getTime());
    };
    await read(a); // in Redis
    // Redis only: a value decoded for one read is handed over as it is; sharing it would leak the mutation.
    const l2Only = createCachedClient({ namespace, redis: a.redis, l1: false });
    // With L1: the decoded value is what L1 keeps.
    const withL1 = createCachedClient({ namespace, redis: a.redis });
    try {
      // Concurrent reads share one lookup once the instance's lease holds.
      await until(async () => (await Promise.all([read(l2Only), read(l2Only)]), l2Only.prisma.$cache.stats().coalesced > 0));
      spoil(await read(l2Only));
      unspoilt(await read(l2Only));
      l2Only.prisma.$cache.resetStats();
      const concurrent = await Promise.all([read(l2Only), read(l2Only), read(l2Only)]);
      expect(l2Only.prisma.$cache.stats()).toMatchObject({ l2Hits: 3, coalesced: 2 });
      spoil(concurrent[0]);
      spoil(concurrent[2]);
      unspoilt(concurrent[1]);
      spoil(await read(withL1));
      expect(withL1.prisma.$cache.stats().l2Hits).toBe(1);
      unspoilt(await read(withL1));
      expect(withL1.prisma.$cache.stats().l1Hits).toBe(1);
    } finally {
      await Promise.all([l2Only.close(), withL1.close()]);
    }
  });

  it("caches not-found as null without a second database query", async () => {
    const before = a.pool.queries;
    expect(await a.prisma.user.findUnique({ where: { id: -1 } })).toBeNull();
    expect(await a.prisma.user.findUnique({ where: { id: -1 } })).toBeNull();
    expect(a.pool.queries - before).toBe(1);
    expect(a.prisma.$cache.stats().negativeHits).toBeGreaterThanOrEqual(1);
  });

  it("shares one load among concurrent misses of one key in a process", async () => {
    const c = createCachedClient({ redis: a.redis });
    try {
      // Reads share work only while the instance's lease holds (see late-invalidations.test.ts): once it serves from L1.
      await until(async () => (await c.prisma.user.findUnique({ where: { id: user.id } }), c.prisma.$cache.stats().l1Hits > 0));
      const queries = c.pool.queries;
      c.prisma.$cache.resetStats();
      c.pool.delayMs = 50;
      const results = await Promise.all(Array.from({ length: 50 }, () => c.prisma.user.count({ where: { id: user.id } })));
      expect(results.every((n) => n === 1)).toBe(true);
      expect(c.pool.queries - queries).toBe(1);
      expect(c.prisma.$cache.stats().coalesced).toBe(49);
    } finally {
      await c.close();
    }
  });

  it("derives the key from the arguments, whatever their key order", async () => {
    const before = a.pool.queries;
    await a.prisma.post.findMany({ where: { authorId: user.id, published: true }, orderBy: { id: "asc" } });
    await a.prisma.post.findMany({ orderBy: { id: "asc" }, where: { published: true, authorId: user.id } });
    expect(a.pool.queries - before).toBe(1);
  });

  it("keeps distinct arguments apart: 1 vs '1' style differences never share an entry", async () => {
    const byId = await a.prisma.user.findMany({ where: { id: { in: [user.id] } } });
    const none = await a.prisma.user.findMany({ where: { id: { in: [] } } });
    expect(byId).toHaveLength(1);
    expect(none).toHaveLength(0);
  });

  it("counts hits and misses per model", async () => {
    const c = createCachedClient({ redis: null });
    try {
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.post.count();
      const stats = c.prisma.$cache.stats();
      expect(stats.models).toEqual({ User: { hits: 1, misses: 1 }, Post: { hits: 0, misses: 1 } });
      expect(stats).toMatchObject({ hits: 1, misses: 2, l1Hits: 1, l2Hits: 0, dbLoads: 2 });
      expect(stats.hitRate).toBeCloseTo(1 / 3);
      expect(stats.l1Entries).toBe(2);
      expect(stats.l1Bytes).toBeGreaterThan(0);
    } finally {
      await c.close();
    }
  });
});
