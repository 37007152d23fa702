import { afterAll, describe, expect, inject, it } from "vitest";
import { FleetLock } from "../../src/core/fleet-lock.ts";
import type { CacheError } from "../../src/index.ts";
import { RedisStore } from "../../src/stores/redis-store.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { routeCacheConnections } from "../helpers/connection-routes.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { FakeClock, seededRandom } from "../helpers/random.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("fleet lock safety", () => {
  const redis = createRedis();
  afterAll(() => redis.disconnect());

  it("a holder whose lock expired can neither release nor extend the next owner's lock", async () => {
    const lock = new FleetLock(new RedisStore(redis, 1_000), 100, "unused");
    const key = `${uniqueNamespace()}:lock`;
    expect(await lock.acquireWithToken(key, "first")).toBe(true);
    expect(await lock.acquireWithToken(key, "second")).toBe(false);
    await sleep(150);
    expect(await lock.acquireWithToken(key, "second")).toBe(true);
    expect(await lock.release(key, "first")).toBe(false);
    expect(await lock.extend(key, "first")).toBe(false);
    expect(await redis.get(key)).toBe("second");
    expect(await lock.extend(key, "second")).toBe(true);
    expect(await lock.release(key, "second")).toBe(true);
    expect(await redis.exists(key)).toBe(0);
  });
});

describe("stale-while-revalidate", () => {
  it("serves the stale value at once and runs exactly one refresh for all instances", async () => {
    const clock = new FakeClock();
    const namespace = uniqueNamespace();
    const options = { namespace, clock, jitter: 0, earlyRefreshBeta: 0, models: { User: { ttl: 10, swr: 60 } } };
    const a = createCachedClient(options);
    const b = createCachedClient(options);
    try {
      const user = await seedUser(a.base);
      const read = (c: typeof a) => c.prisma.user.findFirst({ where: { id: user.id } });
      await read(a);
      await read(b);
      // A change the cache was not told about: only a refresh can reveal it.
      await a.base.user.update({ where: { id: user.id }, data: { name: "refreshed" } });
      clock.advance(10_001);
      a.pool.delayMs = 200;
      b.pool.delayMs = 200;
      const before = a.pool.queries + b.pool.queries;
      const stale = await Promise.all([read(a), read(a), read(b), read(b)]);
      expect(stale.map((u) => u?.name)).toEqual([user.name, user.name, user.name, user.name]);
      expect(a.pool.completed + b.pool.completed, "stale readers did not wait for the database").toBe(before);
      const refreshed = async () => (await read(a))?.name === "refreshed" && (await read(b))?.name === "refreshed";
      for (let i = 0; i < 200 && !(await refreshed()); i++) await sleep(10);
      expect((await read(a))?.name).toBe("refreshed");
      expect((await read(b))?.name).toBe("refreshed");
      expect(a.pool.queries + b.pool.queries - before, "one refresh for the fleet").toBe(1);
      expect(a.prisma.$cache.stats().staleServes + b.prisma.$cache.stats().staleServes).toBeGreaterThanOrEqual(4);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("a failing refresh keeps the stale value, backs off and reports the error", async () => {
    const clock = new FakeClock();
    const errors: CacheError[] = [];
    const c = createCachedClient({ clock, jitter: 0, earlyRefreshBeta: 0, models: { User: { ttl: 10, swr: 60 } }, onError: (error) => errors.push(error) });
    try {
      const user = await seedUser(c.base);
      await c.prisma.user.findFirst({ where: { id: user.id } });
      clock.advance(10_001);
      c.pool.failWith = new Error("database down");
      expect((await c.prisma.user.findFirst({ where: { id: user.id } }))?.name).toBe(user.name);
      for (let i = 0; i < 100 && c.prisma.$cache.stats().refreshFailures === 0; i++) await sleep(10);
      expect(c.prisma.$cache.stats().refreshFailures).toBe(1);
      expect(errors.some((error) => error.code === "E_REFRESH_FAILED")).toBe(true);
      // Backing off: more stale reads within the backoff start no new refresh.
      const queries = c.pool.queries;
      expect((await c.prisma.user.findFirst({ where: { id: user.id } }))?.name).toBe(user.name);
      await sleep(20);
      expect(c.pool.queries).toBe(queries);
      c.pool.failWith = undefined;
      clock.advance(1_000);
      await c.prisma.user.findFirst({ where: { id: user.id } });
      for (let i = 0; i < 100 && c.prisma.$cache.stats().backgroundRefreshes < 2; i++) await sleep(10);
      expect(c.prisma.$cache.stats().backgroundRefreshes).toBe(2);
    } finally {
      c.pool.failWith = undefined;
      await c.close();
    }
  });
});

describe("stats of stale-while-revalidate reads", () => {
  it("a refresh that waits for its own process's load is not a miss's local wait: misses = loads without refreshes + coalesced + local waits (outside probe 123)", async () => {
    // The cache's commands answer 100 ms late: the first read resolves once loaded, while its
    // store (and so its lock) is still on its way, and the next read's refresh waits for it here.
    const proxy = await delayingProxy(inject("redisUrl"), 100);
    const redis = createRedis();
    routeCacheConnections(redis, { commands: { host: "127.0.0.1", port: proxy.port } });
    const namespace = uniqueNamespace();
    // A clock of its own: each read comes after the entry's ttl of 0, and no early refresh or jitter.
    const clock = new FakeClock();
    const cached = createCachedClient({ redis, namespace, clock, jitter: 0, earlyRefreshBeta: 0, redisTimeout: 2_000 });
    try {
      const user = await seedUser(cached.base);
      // ttl 0: every read after the first is served stale (from L1) and asks for a refresh.
      for (let i = 0; i < 3; i++) {
        await cached.prisma.user.findUnique({ where: { id: user.id }, cache: { ttl: 0, swr: 5 } });
        clock.advance(10);
      }
      await until(async () => (await redis.keys(`${namespace}:*lock*`)).length === 0 && cached.prisma.$cache.stats().localLockWaitMs + cached.prisma.$cache.stats().dbLoads > 0);
      await sleep(300);
      const stats = cached.prisma.$cache.stats();
      expect(stats.misses).toBe(1);
      expect(stats.staleServes).toBe(2);
      // Failed once on a loaded machine (ioredis 6, 2026-12-07), not since in 14 reruns: the counters tell which term was off.
      const { dbLoads, backgroundRefreshes, earlyRefreshes, coalesced, localLockWaits, redisTimeouts } = stats;
      expect(stats.misses, JSON.stringify({ dbLoads, backgroundRefreshes, earlyRefreshes, coalesced, localLockWaits, redisTimeouts })).toBe(dbLoads - backgroundRefreshes - earlyRefreshes + coalesced + localLockWaits);
    } finally {
      await cached.close();
      redis.disconnect();
      proxy.close();
    }
  });
});

describe("refresh backoff (outside probe 104)", () => {
  it("a load that succeeds ends the key's backoff: after the next outage a stale value is refreshed at once, not after a backoff grown by earlier failures", async () => {
    const clock = new FakeClock();
    const c = createCachedClient({ clock, jitter: 0, earlyRefreshBeta: 0, models: { User: { ttl: 10, swr: 600 } } });
    try {
      const user = await seedUser(c.base);
      const read = () => c.prisma.user.findFirst({ where: { id: user.id } });
      await read();
      // Four failed refreshes: the backoff has grown to 4 s.
      c.pool.failWith = new Error("database down");
      clock.advance(10_001);
      for (let failures = 1; failures <= 4; failures++) {
        await read();
        await until(() => c.prisma.$cache.stats().refreshFailures === failures);
        clock.advance(500 * 2 ** (failures - 1) + 1);
      }
      c.pool.failWith = undefined;
      // The database is back; a write makes the next read a load, which succeeds.
      await c.prisma.user.update({ where: { id: user.id }, data: { name: "loaded again" } });
      expect((await read())?.name).toBe("loaded again");
      const refreshes = c.prisma.$cache.stats().backgroundRefreshes;
      // Stale again, during another outage: one refresh fails; the next stale read 600 ms later tries again (a first failure backs off 500 ms).
      clock.advance(10_001);
      c.pool.failWith = new Error("database down");
      await read();
      await until(() => c.prisma.$cache.stats().refreshFailures === 5);
      c.pool.failWith = undefined;
      clock.advance(600);
      await read();
      await until(() => c.prisma.$cache.stats().backgroundRefreshes === refreshes + 2);
      await until(async () => (await read())?.name === "loaded again" && c.prisma.$cache.stats().refreshFailures === 5);
    } finally {
      c.pool.failWith = undefined;
      await c.close();
    }
  });
});

describe("early refresh (XFetch)", () => {
  it("with traffic on a key, no request sees a miss across many TTL periods", async () => {
    const clock = new FakeClock();
    const c = createCachedClient({ clock, random: seededRandom(3), jitter: 0, earlyRefreshBeta: 3, models: { Post: { ttl: 1, swr: 0 } } });
    try {
      const user = await seedUser(c.base);
      // Every load "takes" 100 ms of fake time: Δ = 100 ms.
      c.pool.onQuery = () => clock.advance(100);
      const read = () => c.prisma.post.count({ where: { authorId: user.id } });
      await read();
      const missesAfterFirst = c.prisma.$cache.stats().misses;
      for (let step = 0; step < 500; step++) {
        clock.advance(20);
        expect(await read()).toBe(2);
        await c.prisma.$cache.drain();
      }
      const stats = c.prisma.$cache.stats();
      expect(stats.misses, "no request waited on the database after the first").toBe(missesAfterFirst);
      expect(stats.earlyRefreshes, "10 s of traffic over a 1 s TTL refreshed early").toBeGreaterThanOrEqual(9);
      expect(stats.dbLoads).toBeGreaterThanOrEqual(10);
    } finally {
      c.pool.onQuery = undefined;
      await c.close();
    }
  });
});

describe("a holder that caches nothing", () => {
  it("tells the fleet's waiters to load by themselves instead of queueing for the lock", async () => {
    const namespace = uniqueNamespace();
    const options = { namespace, negativeTtl: 0, models: { User: true } };
    const a = createCachedClient(options);
    const b = createCachedClient(options);
    try {
      a.pool.delayMs = 200;
      b.pool.delayMs = 200;
      const read = (c: typeof a) => c.prisma.user.findFirst({ where: { email: "nobody-at-all@example.com" } });
      const first = read(a).then((user) => user);
      await sleep(50);
      const [fromA, fromB] = await Promise.all([first, read(b)]);
      expect([fromA, fromB]).toEqual([null, null]);
      const [statsA, statsB] = [a.prisma.$cache.stats(), b.prisma.$cache.stats()];
      expect(statsA.lockAcquisitions + statsB.lockAcquisitions).toBe(1);
      expect(statsA.lockWaits + statsB.lockWaits).toBe(1);
      expect(statsA.dbLoads + statsB.dbLoads).toBe(2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("a load that outlives its lock", () => {
  it("is kept alive by its holder, while a waiter stops waiting at its bound and loads by itself", async () => {
    const namespace = uniqueNamespace();
    // The load (2 s) outlives the lock (1 s); margins wide enough for a loaded machine.
    const options = { namespace, lockTtl: 1_000, models: { Post: true } };
    const a = createCachedClient(options);
    const b = createCachedClient(options);
    try {
      const user = await seedUser(a.base);
      a.pool.delayMs = 2_000;
      const read = (c: typeof a) => c.prisma.post.count({ where: { authorId: user.id } });
      // Queries are lazy like Prisma's: `then` starts the holder's read now.
      const holder = read(a).then((count) => count);
      // Start the waiter only once a holds the lock, however slow this machine is right now.
      let lockKeys: string[] = [];
      for (let i = 0; i < 500 && (lockKeys = await a.redis!.keys(`${namespace}:*:lock`)).length === 0; i++) await sleep(10);
      expect(lockKeys).toHaveLength(1);
      const token = await a.redis!.get(lockKeys[0]!);
      const waiter = read(b).then((count) => count);
      // Past the lock's 1 s lifetime the holder still owns it: without the keep-alive it would have expired.
      await sleep(1_500);
      expect(await a.redis!.get(lockKeys[0]!)).toBe(token);
      expect(await Promise.all([holder, waiter])).toEqual([2, 2]);
      // b knew no load time of Post, so it waited lockTtl (1 s), then loaded by itself rather
      // than wait on for a holder slower than its bound; it never took the lock.
      expect(b.prisma.$cache.stats()).toMatchObject({ dbLoads: 1, lockAcquisitions: 0, lockWaits: 1, lockWaitTimeouts: 1 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
