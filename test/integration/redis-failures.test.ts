import { Redis } from "ioredis";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { CacheStoreError, type CacheError } from "../../src/index.ts";
import { createBaseClient, createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until } from "../helpers/wait.ts";

describe("a failing Redis never fails a read", () => {
  let chaos: ChaosRedis;
  let userId: number;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    chaos = await ChaosRedis.start();
    const { base } = createBaseClient();
    userId = (await seedUser(base)).id;
    await base.$disconnect();
  });
  afterEach(async () => {
    chaos.resume();
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  afterAll(() => chaos.stop());

  function clientOn(redis: Redis) {
    redis.on("error", () => {});
    const errors: CacheError[] = [];
    const c = createCachedClient({ redis, redisTimeout: 100, l1: false, onError: (error) => errors.push(error) });
    cleanups.push(async () => {
      await c.close();
      redis.disconnect();
    });
    return { ...c, errors };
  }

  it("a frozen Redis: reads time out, fall through to the database and are counted", async () => {
    const c = clientOn(new Redis(chaos.url, { maxRetriesPerRequest: 1 }));
    await c.prisma.user.findUnique({ where: { id: userId } });
    // On a loaded machine that first read (a script load and call) may itself have timed out.
    const bypassesBefore = c.prisma.$cache.stats().bypasses["redis unavailable"] ?? 0;
    chaos.pause();
    const before = c.pool.queries;
    const results = await Promise.all([1, 2, 3].map(() => c.prisma.user.findUnique({ where: { id: userId } })));
    expect(results.every((user) => user?.id === userId)).toBe(true);
    // Without Redis no version can be checked, so every read goes to the database.
    expect(c.pool.queries - before).toBeGreaterThanOrEqual(1);
    expect(c.prisma.$cache.stats().bypasses["redis unavailable"]! - bypassesBefore).toBe(3);
    expect(c.prisma.$cache.stats().redisTimeouts).toBeGreaterThanOrEqual(1);
    expect(c.errors.some((error) => error instanceof CacheStoreError)).toBe(true);
  });

  it("a dead Redis: reads fail fast to the database and are counted", async () => {
    const dead = await ChaosRedis.start();
    const redis = new Redis(dead.url, { maxRetriesPerRequest: 0, retryStrategy: () => 200 });
    const c = clientOn(redis);
    await redis.ping();
    await dead.stop();
    await new Promise((resolve) => redis.once("close", resolve));
    const user = await c.prisma.user.findUnique({ where: { id: userId } });
    expect(user?.id).toBe(userId);
    expect(c.prisma.$cache.stats().redisErrors + c.prisma.$cache.stats().redisTimeouts).toBeGreaterThanOrEqual(1);
    expect(c.pool.queries).toBe(1);
  });

  it("reads are served from Redis again once it answers again", async () => {
    const c = clientOn(new Redis(chaos.url, { maxRetriesPerRequest: 1 }));
    chaos.pause();
    await c.prisma.user.count({ where: { id: userId } });
    chaos.resume();
    // The store runs after the read resolved, and on a loaded machine the connection's check of the
    // server after the stall may still be under way: read until a read costs the database nothing.
    await until(async () => {
      const before = c.pool.queries;
      await c.prisma.user.count({ where: { id: userId } });
      return c.pool.queries === before;
    }, 10_000);
    expect(c.prisma.$cache.stats().l2Hits).toBeGreaterThanOrEqual(1);
  });

  it("a SUBSCRIBE refused for a while (an ACL without the channels) is tried again: L1 serves again once it is taken", async () => {
    const admin = new Redis(chaos.url);
    await admin.call("ACL", "SETUSER", "cache", "on", ">pw", "~*", "&*", "+@all");
    const redis = new Redis(chaos.url, { maxRetriesPerRequest: 1, username: "cache", password: "pw" });
    redis.on("error", () => {});
    const errors: CacheError[] = [];
    const c = createCachedClient({ redis, onError: (error) => errors.push(error) });
    cleanups.push(async () => {
      await c.close();
      redis.disconnect();
      await admin.call("ACL", "DELUSER", "cache");
      admin.disconnect();
    });
    const l1HitAfterTwoReads = async () => {
      const before = c.prisma.$cache.stats().l1Hits;
      await c.prisma.user.findUnique({ where: { id: userId } });
      await c.prisma.user.findUnique({ where: { id: userId } });
      return c.prisma.$cache.stats().l1Hits > before;
    };
    await until(l1HitAfterTwoReads);
    // Redis drops the subscriber that lost its channels; its reconnection's SUBSCRIBE is refused.
    await admin.call("ACL", "SETUSER", "cache", "resetchannels");
    await until(() => errors.some((error) => error instanceof CacheStoreError && error.operation === "SUBSCRIBE"));
    expect(await l1HitAfterTwoReads(), "no L1 without a subscription").toBe(false);
    await admin.call("ACL", "SETUSER", "cache", "allchannels");
    await until(l1HitAfterTwoReads);
  });

  it("an ACL that leaves out one of the cache's key families: reads go to the database, and the error says which patterns the cache needs (an outside probe saw a bare NOPERM)", async () => {
    const namespace = uniqueNamespace();
    const admin = new Redis(chaos.url);
    // Everything but the entries (`<namespace>:*`).
    await admin.call("ACL", "SETUSER", "cache-keys", "on", ">pw", "resetkeys", `~{${namespace}}:*`, `~d{${namespace}}:*`, "&*", "+@all");
    const redis = new Redis(chaos.url, { maxRetriesPerRequest: 1, username: "cache-keys", password: "pw" });
    redis.on("error", () => {});
    const errors: CacheError[] = [];
    const c = createCachedClient({ namespace, redis, onError: (error) => errors.push(error) });
    cleanups.push(async () => {
      await c.close();
      redis.disconnect();
      await admin.call("ACL", "DELUSER", "cache-keys");
      admin.disconnect();
    });
    const expected = await c.base.user.findUnique({ where: { id: userId } });
    for (let i = 0; i < 3; i++) expect(await c.prisma.user.findUnique({ where: { id: userId } })).toEqual(expected);
    await until(() => errors.some((error) => error instanceof CacheStoreError));
    const refused = errors.find((error) => error instanceof CacheStoreError)!;
    expect(refused.message).toMatch(/NOPERM|can't access/);
    expect(refused.message).toContain("entries <namespace>:*, {<namespace>}:*, dirty marks d{<namespace>}:*, hot-key replicas {r*}<namespace>:*");
  });

  it("an ACL that denies a command a script calls (PUBLISH): the error names the command, not only the script's line (outside probe 219)", async () => {
    const namespace = uniqueNamespace();
    const admin = new Redis(chaos.url);
    await admin.call("ACL", "SETUSER", "cache-publish", "on", ">pw", "~*", "&*", "+@all", "-publish");
    const redis = new Redis(chaos.url, { maxRetriesPerRequest: 1, username: "cache-publish", password: "pw" });
    redis.on("error", () => {});
    const errors: CacheError[] = [];
    const c = createCachedClient({ namespace, redis, redisDownWriteWait: 200, onError: (error) => errors.push(error) });
    cleanups.push(async () => {
      await c.close().catch(() => {});
      redis.disconnect();
      await admin.call("ACL", "DELUSER", "cache-publish");
      admin.disconnect();
    });
    await c.prisma.user.update({ where: { id: userId }, data: { name: "acl-publish" } });
    const refused = errors.find((error) => error instanceof CacheStoreError && /can't run this command/.test(error.message));
    expect(refused?.message).toContain("the ACL denies PUBLISH");
  });

  it("an async onError hook that rejects fails no query and crashes nothing: its failure is told once, as a process warning (outside probe 283: exit 1 at the first absorbed error)", async () => {
    const redis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
    let calls = 0;
    const c = createCachedClient({ redis, redisTimeout: 50, onError: async () => {
      calls++;
      throw new Error("log shipper unavailable");
    } });
    const warnings: Error[] = [];
    const unhandled: unknown[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("warning", onWarning).on("unhandledRejection", onUnhandled);
    cleanups.push(async () => {
      process.off("warning", onWarning).off("unhandledRejection", onUnhandled);
      await c.close();
      redis.disconnect();
    });
    chaos.pause();
    for (let i = 0; i < 3; i++) expect((await c.prisma.user.findUnique({ where: { id: userId } }))?.id).toBe(userId);
    await sleep(50);
    expect(calls).toBeGreaterThan(0);
    expect(unhandled).toEqual([]);
    expect(warnings.filter((warning) => (warning as { code?: string }).code === "PCS_ON_ERROR_FAILED").map((warning) => warning.message)).toEqual([expect.stringContaining("log shipper unavailable")]);
  });

  it("a throwing onError hook does not fail the query", async () => {
    const redis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
    const c = createCachedClient({ redis, redisTimeout: 50, onError: () => { throw new Error("hook failed"); } });
    cleanups.push(async () => {
      await c.close();
      redis.disconnect();
    });
    chaos.pause();
    expect((await c.prisma.user.findUnique({ where: { id: userId } }))?.id).toBe(userId);
  });
});
