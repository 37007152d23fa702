import { skip } from "@prisma/client/runtime/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accelerateCompat, CacheArgumentError, CacheConfigError, CacheExtendedTwiceError, cacheExtension } from "../../src/index.ts";
import { createBaseClient, createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { MAX_BACKGROUND_REFRESHES } from "../../src/core/tiered-cache.ts";
import { FakeClock } from "../helpers/random.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

type Seeded = Awaited<ReturnType<typeof seedUser>>;

describe("what passes through, and what is bypassed", () => {
  const c = createCachedClient({ models: { User: true } });
  let user: Seeded;
  beforeAll(async () => {
    user = await seedUser(c.base);
  });
  afterAll(() => c.close());

  it("never caches models that are not listed", async () => {
    const before = c.pool.queries;
    await c.prisma.post.findMany({ where: { authorId: user.id } });
    await c.prisma.post.findMany({ where: { authorId: user.id } });
    expect(c.pool.queries - before).toBe(2);
    expect(c.prisma.$cache.stats().models.Post).toBeUndefined();
  });

  it("`cache: false` reads the database and is counted", async () => {
    await c.prisma.user.findUnique({ where: { id: user.id } });
    const before = c.pool.queries;
    const fresh = await c.prisma.user.findUnique({ where: { id: user.id }, cache: false });
    expect(fresh?.id).toBe(user.id);
    expect(c.pool.queries - before).toBe(1);
    expect(c.prisma.$cache.stats().bypasses["cache: false"]).toBe(1);
    // Lazy as Prisma's own: counted when it runs, not when it is made; in a batch and through the fluent API as Prisma runs them.
    void c.prisma.user.findUnique({ where: { id: user.id }, cache: false });
    expect(c.prisma.$cache.stats().bypasses["cache: false"]).toBe(1);
    const [batched] = await c.prisma.$transaction([c.prisma.user.findUnique({ where: { id: user.id }, cache: false })]);
    expect(batched?.id).toBe(user.id);
    expect(c.prisma.$cache.stats().bypasses["cache: false"], "a batch's part is counted too (outside probe 129)").toBe(2);
    const posts = await c.prisma.user.findUnique({ where: { id: user.id }, cache: false }).posts();
    expect(posts).toEqual(await c.base.user.findUnique({ where: { id: user.id } }).posts());
  });

  it("writes pass through untouched", async () => {
    const updated = await c.prisma.user.update({ where: { id: user.id }, data: { name: "renamed" } });
    expect(updated.name).toBe("renamed");
    expect(await c.base.user.findUnique({ where: { id: user.id } })).toMatchObject({ name: "renamed" });
  });

  it("batch $transaction([...]) accepts cached queries and runs them uncached in the transaction", async () => {
    await c.prisma.user.count();
    const before = c.pool.queries;
    const hitsBefore = c.prisma.$cache.stats().hits;
    const [found, count] = await c.prisma.$transaction([c.prisma.user.findUnique({ where: { id: user.id } }), c.prisma.user.count()]);
    expect(found?.id).toBe(user.id);
    expect(count).toBeGreaterThan(0);
    // Batches run on one pooled connection, not through pool.query: no cached value was used.
    expect(c.pool.queries).toBe(before);
    expect(c.prisma.$cache.stats().hits).toBe(hitsBefore);
  });

  it("interactive transactions read uncommitted state, never the cache", async () => {
    await c.prisma.user.findUnique({ where: { id: user.id } });
    await c.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: user.id }, data: { name: "inside-tx" } });
      expect((await tx.user.findUnique({ where: { id: user.id } }))?.name).toBe("inside-tx");
      throw new Error("rollback");
    }).catch((error: Error) => expect(error.message).toBe("rollback"));
    expect(c.prisma.$cache.stats().bypasses.transaction).toBeGreaterThanOrEqual(1);
  });

  it("keeps the fluent API working (a fluent relation read is Prisma's own query: not cached, counted as a bypass)", async () => {
    const bypassed = c.prisma.$cache.stats().bypasses["fluent relation"] ?? 0;
    const posts = await c.prisma.user.findUnique({ where: { id: user.id } }).posts({ orderBy: { id: "asc" } });
    expect(posts?.map((post) => post.slug)).toEqual(user.posts.map((post) => post.slug));
    expect(c.prisma.$cache.stats().bypasses["fluent relation"]).toBe(bypassed + 1);
    const author = await c.prisma.post.findFirst({ where: { authorId: user.id } });
    expect(author?.authorId).toBe(user.id);
  });

  it("a fluent call on a write is lazy, joins a batch $transaction, and invalidates what the write changed", async () => {
    const post = user.posts[0]!;
    await c.prisma.post.findUnique({ where: { id: post.id } });
    const pending = c.prisma.post.update({ where: { id: post.id }, data: { title: "fluent write" } }).author();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await c.base.post.findUniqueOrThrow({ where: { id: post.id } })).title, "nothing ran before it was awaited").toBe(post.title);
    expect((await pending)?.id).toBe(user.id);
    expect((await c.prisma.post.findUnique({ where: { id: post.id } }))?.title).toBe("fluent write");
    const [author] = await c.prisma.$transaction([c.prisma.post.update({ where: { id: post.id }, data: { title: "fluent in a batch" } }).author()]);
    expect(author?.id).toBe(user.id);
    expect((await c.prisma.post.findUnique({ where: { id: post.id } }))?.title).toBe("fluent in a batch");
    // Chained like Prisma's own: the written post's author's posts.
    const posts = await c.prisma.post.update({ where: { id: post.id }, data: { title: "chained" } }).author().posts();
    expect(posts.map((each) => each.title)).toContain("chained");
    expect((await c.prisma.post.findUnique({ where: { id: post.id } }))?.title).toBe("chained");
    // A failing fluent write that nobody awaits does not run, so it cannot reject unhandled.
    c.prisma.post.update({ where: { id: -1 }, data: { title: "never" } }).author();
  });

  it("answers a select, include or aggregate in the order it was asked for, as Prisma does, whichever spelling was cached first", async () => {
    const post = user.posts[0]!;
    for (let i = 0; i < 2; i++) {
      await c.prisma.user.findUnique({ where: { id: user.id }, select: { name: true, id: true } });
      expect(Object.keys((await c.prisma.user.findUnique({ where: { id: user.id }, select: { id: true, name: true } }))!)).toEqual(["id", "name"]);
      await c.prisma.post.findUnique({ where: { id: post.id }, include: { tags: true, author: true } });
      expect(Object.keys((await c.prisma.post.findUnique({ where: { id: post.id }, include: { author: true, tags: true } }))!).slice(-2)).toEqual(["author", "tags"]);
      // Aggregates: the fields inside `_sum`, and `_count` before or after `_sum`.
      const where = { id: user.id };
      await c.prisma.user.aggregate({ where, _sum: { visits: true, score: true }, _count: true });
      const aggregate = await c.prisma.user.aggregate({ where, _count: true, _sum: { score: true, visits: true } });
      expect(Object.keys(aggregate)).toEqual(["_count", "_sum"]);
      expect(Object.keys(aggregate._sum)).toEqual(["score", "visits"]);
      await c.prisma.user.groupBy({ by: ["id"], where, _max: { score: true, version: true } });
      expect(Object.keys((await c.prisma.user.groupBy({ by: ["id"], where, _max: { version: true, score: true } }))[0]!._max)).toEqual(["version", "score"]);
    }
  });

  it("does not answer `include: { posts: {} }` with a cached `include: { posts: Prisma.skip }` (Prisma leaves a skipped member out)", async () => {
    const where = { id: user.id };
    for (let i = 0; i < 2; i++) {
      expect(await c.prisma.user.findUnique({ where, include: { posts: skip as never } })).not.toHaveProperty("posts");
      expect((await c.prisma.user.findUnique({ where, include: { posts: {} } }))?.posts).toHaveLength(user.posts.length);
    }
  });

  it("answers a skipped or undefined member as Prisma does, whichever query was cached first: refused where Prisma reads an empty selection, ignored where Prisma drops it (outside probe 272)", async () => {
    const where = { id: user.id };
    for (let i = 0; i < 2; i++) {
      // Cached first, each would have answered the query below it.
      await c.prisma.user.aggregate({ where, _sum: { score: true } });
      await expect(c.prisma.user.aggregate({ where, _sum: { score: true }, _avg: undefined })).rejects.toThrow("needs at least one truthy value");
      await expect(c.prisma.user.aggregate({ where, _sum: { score: true }, _max: skip as never })).rejects.toThrow("must not be empty");
      await c.prisma.user.groupBy({ by: ["id"], where });
      await expect(c.prisma.user.groupBy({ by: ["id"], where, _count: undefined })).rejects.toThrow("needs at least one truthy value");
      await c.prisma.user.count({ where });
      await expect(c.prisma.user.count({ where, omit: skip } as never)).rejects.toThrow("either use `omit` or `select`");
      await c.prisma.user.findMany({ where });
      await expect(c.prisma.user.findMany({ where, select: skip as never })).rejects.toThrow("must not be empty");
      // Prisma drops a skipped member it does not know (an app passing one shape of arguments to every read): it was sent as `_count: {}`.
      expect(await c.prisma.user.findMany({ where, _count: skip } as never)).toHaveLength(1);
    }
  });

  it("is lazy like Prisma: nothing runs until the query is awaited", async () => {
    const before = c.pool.queries;
    const pending = c.prisma.user.findMany({ where: { email: { startsWith: "lazy" } } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(c.pool.queries).toBe(before);
    await pending;
    expect(c.pool.queries).toBe(before + 1);
  });

  it("arguments that cannot be encoded bypass the cache with a counted reason; Prisma judges them", async () => {
    const query = c.prisma.user.findMany({ where: { id: (() => 1) as never } });
    await expect(query).rejects.toThrow();
    expect(c.prisma.$cache.stats().bypasses["unencodable args: function"]).toBe(1);
  });

  it("serves a result nested too deeply to encode or copy (Json written outside Prisma) uncached, as plain Prisma does, and reports it (outside probe 282: every read of it rejected with a RangeError)", async () => {
    const errors: string[] = [];
    const d = createCachedClient({ models: { User: true }, onError: (error) => errors.push(error.code) });
    try {
      const deep = await seedUser(d.base);
      const levels = 6_000;
      await d.base.$executeRawUnsafe(`UPDATE "User" SET profile = $1::jsonb WHERE id = $2`, "[".repeat(levels) + "]".repeat(levels), deep.id);
      // Compared without recursion, which that depth would exhaust in the comparison too.
      const depthOf = (value: unknown) => {
        let depth = 0;
        for (let level = value; Array.isArray(level); level = level[0]) depth++;
        return depth;
      };
      const plain = await d.base.user.findUnique({ where: { id: deep.id } });
      expect(depthOf(plain?.profile)).toBe(levels);
      for (let i = 0; i < 2; i++) {
        const cached = await d.prisma.user.findUnique({ where: { id: deep.id } });
        expect({ ...cached, profile: depthOf(cached?.profile) }).toEqual({ ...plain, profile: levels });
      }
      expect(d.prisma.$cache.stats()).toMatchObject({ encodeFailures: 2, dbLoads: 2, hits: 0 });
      expect(errors).toEqual(["E_UNENCODABLE_RESULT"]);
    } finally {
      await d.close();
    }
  });

  it("never caches a database error", async () => {
    const before = c.pool.queries;
    c.pool.failWith = new Error("connection reset");
    await expect(c.prisma.user.findMany({ where: { name: "db-error" } })).rejects.toThrow("connection reset");
    c.pool.failWith = undefined;
    await expect(c.prisma.user.findMany({ where: { name: "db-error" } })).resolves.toEqual([]);
    expect(c.pool.queries - before).toBe(2);
  });

  it("rejects a malformed per-query option with a typed error naming it", async () => {
    await expect(c.prisma.user.findMany({ cache: { ttl: -1 } })).rejects.toThrow(CacheArgumentError);
    await expect(c.prisma.user.findMany({ cache: { tll: 5 } as never })).rejects.toThrow(/cache\.tll/);
    // The element at fault, as the Accelerate mode names it (outside probe 239).
    await expect(c.prisma.user.findMany({ cache: { tags: ["a", ""] } })).rejects.toMatchObject({ argument: "cache.tags[1]" });
  });
});

describe("TTLs", () => {
  it("expires entries after the TTL on the injected clock; a per-query ttl overrides the model's", async () => {
    const clock = new FakeClock();
    const c = createCachedClient({ clock, jitter: 0, redis: null, models: { User: { ttl: 60 } } });
    try {
      const user = await seedUser(c.base);
      const read = (ttl?: number) => c.prisma.user.findFirst({ where: { id: user.id }, ...(ttl ? { cache: { ttl } } : {}) });
      const countLoads = async (ttl?: number) => {
        const before = c.pool.queries;
        await read(ttl);
        return c.pool.queries - before;
      };
      expect(await countLoads()).toBe(1);
      clock.advance(59_999);
      expect(await countLoads()).toBe(0);
      clock.advance(1);
      expect(await countLoads()).toBe(1);
      // A read asking for another lifetime has its own entry, never one stored with the model's.
      expect(await countLoads(5)).toBe(1);
      clock.advance(4_999);
      expect(await countLoads(5)).toBe(0);
      clock.advance(1);
      expect(await countLoads(5)).toBe(1);
      expect(await countLoads()).toBe(0);
      await c.prisma.$cache.close();
    } finally {
      await c.close();
    }
  });

  it.each([["with Redis", undefined], ["without Redis", null]] as const)("keeps an entry in L1 at most l1.maxTtl on the monotonic clock, whatever the wall clock does (%s; outside probe 234: a 10-minute step back kept it 10 minutes)", async (_, redis) => {
    const clock = new FakeClock(Date.now());
    const c = createCachedClient({ clock, jitter: 0, redis, l1: { maxTtl: 1 }, models: { User: { ttl: 3_600 } } });
    try {
      const user = await seedUser(c.base);
      const l1Hits = () => c.prisma.$cache.stats().l1Hits;
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await until(async () => {
        const before = l1Hits();
        await c.prisma.user.findUnique({ where: { id: user.id } });
        return l1Hits() > before;
      });
      clock.advance(-600_000);
      // Served by the next tier (Redis, or the database) once a second has passed on the monotonic clock.
      await until(async () => {
        const before = l1Hits();
        await c.prisma.user.findUnique({ where: { id: user.id } });
        return l1Hits() === before;
      }, 10_000, 50);
    } finally {
      await c.close();
    }
  });

  it("runs at most MAX_BACKGROUND_REFRESHES stale-while-revalidate refreshes at once; the rest are served stale without one (outside probe 187)", async () => {
    const clock = new FakeClock();
    const c = createCachedClient({ clock, jitter: 0, earlyRefreshBeta: 0, redis: null, models: { User: { ttl: 1, swr: 3_000 } } });
    try {
      const user = await seedUser(c.base);
      // 200 entries of distinct reads, all stale at once.
      const reads = () => Promise.all(Array.from({ length: 200 }, (_, take) => c.prisma.user.findMany({ where: { id: user.id }, take: take + 1 })));
      await reads();
      clock.advance(2_000);
      const before = c.prisma.$cache.stats().backgroundRefreshes;
      expect((await reads()).every((rows) => rows.length === 1)).toBe(true);
      expect(c.prisma.$cache.stats().backgroundRefreshes - before).toBe(MAX_BACKGROUND_REFRESHES);
      await c.prisma.$cache.drain();
    } finally {
      await c.close();
    }
  });

  it("writes Redis entries with jittered TTLs so entries written together expire apart", async () => {
    const namespace = uniqueNamespace();
    const c = createCachedClient({ namespace, ttl: 100, jitter: 0.2 });
    try {
      const users = await Promise.all(Array.from({ length: 20 }, () => seedUser(c.base)));
      for (const user of users) await c.prisma.user.findUnique({ where: { id: user.id } });
      // Each store lands after its read resolved, through the cache's own connection.
      const storedTtls = async () => {
        const keys = (await c.redis!.keys(`${namespace}:*:User:findUnique:*`)).filter((key) => !key.endsWith(":lock"));
        return (await Promise.all(keys.map((key) => c.redis!.pttl(key)))).filter((ttl) => ttl > 0);
      };
      await until(async () => (await storedTtls()).length === 20);
      const mine = await storedTtls();
      expect(Math.min(...mine)).toBeGreaterThanOrEqual(79_000);
      expect(Math.max(...mine)).toBeLessThanOrEqual(120_000);
      expect(new Set(mine.map((ttl) => Math.round(ttl / 1000))).size).toBeGreaterThan(5);
    } finally {
      await c.close();
    }
  });
});

describe("configuration at $extends", () => {
  it("names an unknown model", () => {
    const { base } = createBaseClient();
    expect(() => base.$extends(cacheExtension({ models: { Usr: true } }))).toThrow(CacheConfigError);
    expect(() => base.$extends(cacheExtension({ models: { Usr: true } }))).toThrow(/models\.Usr/);
  });

  it("refuses a second cache over a client that has one (its $cache would hide the first's, which could never be closed); sibling caches are fine", async () => {
    const redis = createRedis();
    const c = createCachedClient({ redis });
    const sibling = createCachedClient({ redis });
    try {
      expect(() => c.prisma.$extends(cacheExtension({ redis, models: { User: true } }))).toThrow(CacheExtendedTwiceError);
      expect(() => c.prisma.$extends(accelerateCompat({ redis }))).toThrow(/already extended with cacheExtension/);
      const accelerated = c.base.$extends(accelerateCompat({ redis }));
      try {
        expect(() => accelerated.$extends(cacheExtension({ redis, models: { User: true } }))).toThrow(CacheExtendedTwiceError);
      } finally {
        await accelerated.$cache.close();
      }
      const user = await seedUser(c.base);
      await c.prisma.user.update({ where: { id: user.id }, data: { name: "through the first" } });
      expect((await sibling.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("through the first");
    } finally {
      await Promise.all([c.close(), sibling.close()]);
      redis.disconnect();
    }
  });

  it("close() stops caching and never closes the caller's Redis", async () => {
    const redis = createRedis();
    const c = createCachedClient({ redis });
    try {
      await c.prisma.$cache.close();
      expect(await redis.ping()).toBe("PONG");
      const before = c.pool.queries;
      await c.prisma.user.count();
      await c.prisma.user.count();
      expect(c.pool.queries - before).toBe(2);
    } finally {
      await c.close();
      redis.disconnect();
    }
  });
});
