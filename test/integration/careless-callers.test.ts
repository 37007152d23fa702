import { skip } from "@prisma/client/runtime/client";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { CacheArgumentError, type CacheError } from "../../src/index.ts";
import { createCachedClient } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";

/** Calls `call`, asserting it does not throw at the call site, and returns how its promise settled. */
async function settle(label: string, call: () => PromiseLike<unknown>): Promise<{ rejected: boolean; reason: unknown }> {
  let promise: PromiseLike<unknown> | undefined;
  expect(() => (promise = call()), `${label} throws at the call`).not.toThrow();
  try {
    await promise;
    return { rejected: false, reason: undefined };
  } catch (reason) {
    return { rejected: true, reason };
  }
}

// Outside probe 211: `const { findMany } = prisma.user; findMany(args)` threw "Cannot destructure
// property '$name' of 'this'". Plain Prisma's methods are bound; an extension's cannot be (one
// function serves every model and client, a transaction's too), so the call names the fix.
describe("a method taken off its model", () => {
  it("throws a TypeError that says how to call it, for reads and writes", async () => {
    const client = createCachedClient();
    try {
      const { findMany, findUnique, update } = client.prisma.user;
      for (const [operation, detached] of [["findMany", () => findMany({})], ["findUnique", () => findUnique({ where: { id: 1 } })], ["update", () => update({ where: { id: 1 }, data: {} })]] as const) {
        expect(detached, operation).toThrow(TypeError);
        expect(detached, operation).toThrow(new RegExp(`${operation}\\(\\) was called without its model.*prisma\\.user\\.${operation}\\(args\\)`));
      }
      // Called as a method, the same function works.
      expect(await findMany.call(client.prisma.user, { where: { id: -1 } })).toEqual([]);
      // A fluent relation method taken off its query works, as Prisma's do (outside probe 213: it threw).
      const user = await seedUser(client.base);
      const posts = client.prisma.user.findUnique({ where: { id: user.id } }).posts;
      expect(await posts()).toEqual(await client.base.user.findUnique({ where: { id: user.id } }).posts());
    } finally {
      await client.close();
    }
  });
});

// Outside probe 216: a batch Prisma refuses before running any of it (an element that is not a
// Prisma promise) was taken as a write of unknown outcome, and its model's reads bypassed the
// cache fleet-wide for `lateCommitWindow` (30 s).
describe("a batch Prisma refuses before running it", () => {
  it("leaves nothing uncached: what it named is cached again at once", async () => {
    const client = createCachedClient();
    try {
      const user = await seedUser(client.base);
      const read = () => client.prisma.user.findUnique({ where: { id: user.id } });
      await read();
      await expect(client.prisma.$transaction([client.prisma.user.update({ where: { id: user.id }, data: { name: "never" } }), 5 as never])).rejects.toThrow(/Prisma Client promises/);
      await read();
      const before = client.prisma.$cache.stats();
      expect((await read())?.name).toBe(user.name);
      const after = client.prisma.$cache.stats();
      expect(after.hits - before.hits).toBe(1);
      expect(after.bypasses["write in progress"] ?? 0).toBe(0);
    } finally {
      await client.close();
    }
  });

  it("on a client extended after the cache, leaves nothing for close() to wait for or to report", async () => {
    const client = createCachedClient();
    const errors: string[] = [];
    const extended = client.prisma.$extends({ client: { appName: () => "app" } });
    const user = await seedUser(client.base);
    await expect(extended.$transaction([extended.user.update({ where: { id: user.id }, data: { name: "never" } }), 5 as never])).rejects.toThrow(/Prisma Client promises/);
    // A batch that runs, on the same client, still invalidates what it wrote.
    await extended.user.findUnique({ where: { id: user.id } });
    const [written] = await extended.$transaction([extended.user.update({ where: { id: user.id }, data: { name: "written in a batch" } })]);
    expect(written.name).toBe("written in a batch");
    expect((await extended.user.findUnique({ where: { id: user.id } }))?.name).toBe("written in a batch");
    await client.prisma.$cache.close().catch((error: Error) => errors.push(error.message));
    await client.base.$disconnect();
    client.redis?.disconnect();
    expect(errors).toEqual([]);
  });
});

describe("bad arguments reject, never throw at the call", () => {
  it("reads with an invalid cache option or arguments, and every $cache method", async () => {
    const client = createCachedClient();
    const prisma = client.prisma as unknown as Record<string, Record<string, (args?: unknown) => PromiseLike<unknown>>> & { $cache: Record<string, (...args: unknown[]) => PromiseLike<unknown>> };
    try {
      const reads = ["findUnique", "findUniqueOrThrow", "findFirst", "findFirstOrThrow", "findMany", "count", "aggregate", "groupBy"];
      for (const operation of reads) {
        for (const cache of ["bad", { ttl: -1 }, { tags: [""] }, { nope: 1 }]) {
          const { rejected, reason } = await settle(`${operation} cache ${JSON.stringify(cache)}`, () => prisma.user![operation]!({ where: { id: 1 }, cache }));
          expect(rejected, operation).toBe(true);
          expect(reason, operation).toBeInstanceOf(CacheArgumentError);
        }
      }
      // Arguments that are not an object: what Prisma does without the cache (its own validation error, mostly).
      const base = client.base as unknown as Record<string, Record<string, (args?: unknown) => PromiseLike<unknown>>>;
      const outcome = ({ rejected, reason }: { rejected: boolean; reason: unknown }) => (rejected ? (reason as Error).constructor.name : "resolved");
      for (const operation of [...reads, "create", "update", "upsert", "delete", "updateMany", "deleteMany"]) {
        for (const args of [5, "x"]) {
          const label = `${operation}(${JSON.stringify(args)})`;
          expect(outcome(await settle(label, () => prisma.user![operation]!(args))), label).toBe(outcome(await settle(label, () => base.user![operation]!(args))));
        }
      }
      // `$transaction` with neither a callback nor an array: Prisma's own error, thrown or rejected as without the cache.
      const failure = async (client: unknown, input: unknown) => {
        try {
          await (client as { $transaction(input?: unknown): PromiseLike<unknown> }).$transaction(input);
          return "resolved";
        } catch (error) {
          return `${(error as Error).constructor.name}: ${(error as Error).message}`;
        }
      };
      for (const input of [undefined, null, {}, 5]) expect(await failure(client.prisma, input), `$transaction(${JSON.stringify(input)})`).toBe(await failure(client.base, input));
      // The fluent API on a refused query rejects too.
      const fluent = await settle("findUnique(bad).posts()", () => (prisma.user!.findUnique!({ where: { id: 1 }, cache: "bad" }) as unknown as { posts(): PromiseLike<unknown> }).posts());
      expect(fluent.reason).toBeInstanceOf(CacheArgumentError);
      // `.catch()` sees it, like a Prisma validation error.
      const caught = await prisma.user!.findMany!({ cache: "bad" }).then(
        () => "resolved",
        (error: unknown) => (error as CacheError).code,
      );
      expect(caught).toBe("E_INVALID_ARGUMENT");
      const control: Array<[string, () => PromiseLike<unknown>]> = [
        ["invalidate(null)", () => prisma.$cache.invalidate!(null)],
        ["invalidate({ models: 'User' })", () => prisma.$cache.invalidate!({ models: "User" })],
        ["invalidate({ tags: [1] })", () => prisma.$cache.invalidate!({ tags: [1] })],
        // A target computed from a missing value would invalidate nothing, silently.
        ["invalidate({})", () => prisma.$cache.invalidate!({})],
        ["invalidate({ model: undefined })", () => prisma.$cache.invalidate!({ model: undefined })],
        // Misspelt or mistyped options would be ignored, silently.
        ["topQueries({ lmit: 5 })", () => prisma.$cache.topQueries!({ lmit: 5 })],
        ["fleetStats({ countEntrys: true })", () => prisma.$cache.fleetStats!({ countEntrys: true })],
        ["fleetStats({ countEntries: 'yes' })", () => prisma.$cache.fleetStats!({ countEntries: "yes" })],
        // No model of this client has a guard to rebuild.
        ["rebuildBloom('User')", () => prisma.$cache.rebuildBloom!("User")],
        ["raw(['Nope'])", () => prisma.$cache.raw!(["Nope"], Promise.resolve(1))],
        ["rebuildBloom('Nope')", () => prisma.$cache.rebuildBloom!("Nope")],
        ["warm({ top: 0 })", () => prisma.$cache.warm!({ top: 0 })],
        ["warm(5)", () => prisma.$cache.warm!(5)],
        ["topQueries({ limit: 0 })", () => prisma.$cache.topQueries!({ limit: 0 })],
        ["topQueries({ model: 'Nope' })", () => prisma.$cache.topQueries!({ model: "Nope" })],
        ["fleetStats(null)", () => prisma.$cache.fleetStats!(null)],
      ];
      for (const [label, call] of control) {
        const { rejected, reason } = await settle(label, call);
        expect(rejected, label).toBe(true);
        expect(reason, label).toBeInstanceOf(CacheArgumentError);
      }
    } finally {
      await client.close();
    }
  });

  it("a per-query lifetime above maxLifetime is clamped and counted, not an error", async () => {
    const client = createCachedClient({ ttl: 300, jitter: 0.1, negativeTtl: 0 });
    try {
      const user = await seedUser(client.base);
      // 330 s with 10 % jitter is 363 s, above the 330 s bound the model settings give.
      const row = await client.prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 330 } });
      expect(row?.id).toBe(user.id);
      const huge = await client.prisma.user.findMany({ where: { id: user.id }, cache: { ttl: 1e300, swr: 1e300 } });
      expect(huge).toHaveLength(1);
      expect(client.prisma.$cache.stats().clamps["cache.ttl + cache.swr above maxLifetime"]).toBe(2);
      // Cached within the bound: the second read is a hit, and Redis took the (integer) PX.
      expect(await client.prisma.user.findMany({ where: { id: user.id }, cache: { ttl: 1e300, swr: 1e300 } })).toEqual(huge);
      expect(client.prisma.$cache.stats().l1Hits).toBe(1);
      expect(client.prisma.$cache.stats().redisErrors).toBe(0);
    } finally {
      await client.close();
    }
  });
});

describe("a per-query cache option on a model that is not cached", () => {
  it("runs the read uncached, and reports it once per model to onError (cache: false reports nothing)", async () => {
    const reported: CacheError[] = [];
    const client = createCachedClient({ models: { User: true, Tag: false }, onError: (error) => void reported.push(error) });
    const prisma = client.prisma as unknown as Record<string, Record<string, (args?: unknown) => PromiseLike<unknown>>>;
    try {
      const user = await seedUser(client.base);
      const plain = await client.base.post.findMany({ where: { authorId: user.id } });
      for (let i = 0; i < 3; i++) expect(await prisma.post!.findMany!({ where: { authorId: user.id }, cache: { ttl: 60 } })).toEqual(plain);
      expect(await prisma.post!.count!({ where: { authorId: user.id }, cache: { tags: ["posts"] } })).toBe(plain.length);
      expect(await prisma.tag!.findMany!({ cache: false })).toEqual(await client.base.tag.findMany());
      expect(await prisma.tag!.findFirst!({ cache: { ttl: 5 } })).toEqual(await client.base.tag.findFirst());
      const uncached = reported.filter((error) => error instanceof CacheArgumentError);
      expect(uncached.map((error) => [(error as CacheArgumentError).argument, error.message.split(" ")[3]])).toEqual([
        ["cache", "Post"],
        ["cache", "Tag"],
      ]);
      expect(client.prisma.$cache.stats().misses).toBe(0);
    } finally {
      await client.close();
    }
  });
});

describe("a findUnique that names no unique key", () => {
  it("is left to Prisma, never cached, and answered as a lone call, which Prisma rejects, though the app batched it (outside probe 200)", async () => {
    const client = createCachedClient();
    try {
      const author = await seedUser(client.base);
      const slugs = Array.from({ length: 6 }, (_, i) => `s-${author.id}-${i}`);
      await client.base.post.createMany({ data: slugs.map((slug) => ({ slug, title: "t", authorId: author.id })) });
      // `slug` alone is not unique (the key is authorId + slug). Prisma rejects such a findUnique,
      // unless it batches it with another of its shape in the same tick: then it answers each like a findFirst.
      const bySlug = (slug: string) => (client.prisma.post.findUnique as (args: unknown) => Promise<unknown>)({ where: { slug } });
      const plainBatch = await Promise.allSettled(slugs.map((slug) => (client.base.post.findUnique as (args: unknown) => Promise<unknown>)({ where: { slug } })));
      expect(plainBatch.map((outcome) => outcome.status)).toContain("fulfilled");
      await expect(bySlug(slugs[0]!)).rejects.toBeInstanceOf(Prisma.PrismaClientValidationError);
      const batched = await Promise.allSettled(slugs.map(bySlug));
      expect(batched.map((outcome) => outcome.status)).toEqual(slugs.map(() => "rejected"));
      await client.prisma.$cache.drain();
      for (const slug of slugs) await expect(bySlug(slug), slug).rejects.toBeInstanceOf(Prisma.PrismaClientValidationError);
      expect(client.prisma.$cache.stats().bypasses["no unique key in where"]).toBe(1 + 2 * slugs.length);
    } finally {
      await client.close();
    }
  });

  it("nor does one whose unique key Prisma does not take as it is: a partial compound, a filter, Prisma.skip, a fraction for an Int", async () => {
    const client = createCachedClient();
    try {
      const author = await seedUser(client.base);
      const posts = await Promise.all([0, 1, 2].map((i) => client.base.post.create({ data: { slug: `p-${author.id}-${i}`, title: "t", authorId: author.id } })));
      const shapes: Array<[string, (post: (typeof posts)[number]) => unknown]> = [
        ["a compound without one of its fields", (post) => ({ authorId_slug: { slug: post.slug } })],
        ["a compound with a field skipped", (post) => ({ authorId_slug: { authorId: skip, slug: post.slug } })],
        ["a filter on the id", (post) => ({ id: { equals: post.id } })],
        ["a fraction for the Int id", (post) => ({ id: post.id + 0.5 })],
      ];
      const outcome = (promise: Promise<unknown>) => promise.then((row) => `row ${(row as { id?: number } | null)?.id ?? null}`, (error: unknown) => (error as Error).constructor.name);
      for (const [shape, whereOf] of shapes) {
        const cached = (post: (typeof posts)[number]) => (client.prisma.post.findUnique as (args: unknown) => Promise<unknown>)({ where: whereOf(post) });
        const plain = (post: (typeof posts)[number]) => (client.base.post.findUnique as (args: unknown) => Promise<unknown>)({ where: whereOf(post) });
        // One tick: Prisma answers such calls with one query (rows for the invalid ones, null for the fraction).
        await Promise.allSettled(posts.map(cached));
        await client.prisma.$cache.drain();
        for (const post of posts) expect(await outcome(cached(post)), shape).toBe(await outcome(plain(post)));
      }
      expect(client.prisma.$cache.stats().bypasses["no unique key in where"]).toBe(shapes.length * 2 * posts.length);
    } finally {
      await client.close();
    }
  });
});

describe("statistics methods while Redis is down", () => {
  it("warm() on a Redis that refuses writes (NOREPLICAS) warms nothing and says so, rather than counting replays nothing could cache (outside probe 111: warmed 50, cache cold)", async () => {
    const server = await ChaosRedis.start();
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => {});
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    const namespace = `t${Date.now()}`;
    const recorder = createCachedClient({ redis, namespace, queryStats: { flushInterval: 50 } });
    const errors: CacheError[] = [];
    let fresh: ReturnType<typeof createCachedClient> | undefined;
    try {
      const user = await seedUser(recorder.base);
      for (let i = 0; i < 5; i++) await recorder.prisma.user.findUnique({ where: { id: user.id } });
      await recorder.prisma.$cache.drain();
      expect((await recorder.prisma.$cache.topQueries()).length).toBeGreaterThan(0);
      await admin.config("SET", "min-replicas-to-write", "1");
      // An instance started while Redis refuses writes: its registration is refused.
      fresh = createCachedClient({ redis, namespace, onError: (error) => errors.push(error) });
      const warmed = await fresh.prisma.$cache.warm({ top: 10 });
      expect(warmed).toMatchObject({ warmed: 0, failed: 0, skippedBy: { "redis unavailable": 10 } });
      expect(errors.some((error) => /registration does not stand/.test(error.message))).toBe(true);
    } finally {
      await admin.config("SET", "min-replicas-to-write", "0").catch(() => undefined);
      await Promise.all([recorder.close(), fresh?.close()]);
      redis.disconnect();
      admin.disconnect();
      await server.stop();
    }
  }, 60_000);

  it("warm() and fleetStats() resolve, saying so; topQueries() rejects with the Redis error (an empty list means nothing recorded)", async () => {
    const server = await ChaosRedis.start();
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => {});
    const errors: CacheError[] = [];
    const client = createCachedClient({ redis, redisTimeout: 100, onError: (error) => errors.push(error) });
    let stopped = false;
    try {
      const user = await seedUser(client.base);
      // Started as a service starts: ready once warm() resolved (the cache's connection answered), then a read.
      await client.prisma.$cache.warm();
      await client.prisma.user.findUnique({ where: { id: user.id } });
      await server.stop();
      stopped = true;
      await new Promise((resolve) => setTimeout(resolve, 100));
      const warmed = await client.prisma.$cache.warm({ top: 50 });
      expect(warmed).toMatchObject({ warmed: 0, failed: 0, skippedBy: { "redis unavailable": 50 } });
      await expect(client.prisma.$cache.topQueries()).rejects.toMatchObject({ code: "E_STORE" });
      const fleet = await client.prisma.$cache.fleetStats({ countEntries: true });
      expect(fleet).toMatchObject({ instances: 1, redisUnavailable: true });
      expect(fleet.stats?.misses).toBe(1);
      expect(errors.filter((error) => error.code === "E_STORE").length).toBeGreaterThanOrEqual(3);
      // Reads still work.
      expect((await client.prisma.user.findUnique({ where: { id: user.id } }))?.id).toBe(user.id);
    } finally {
      await client.close();
      redis.disconnect();
      if (!stopped) await server.stop();
    }
  });
});
