import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";
import { routeCacheConnections, routeTo } from "../helpers/connection-routes.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LOCK_TTL = 10_000;

/**
 * The lost wake-up behind multi-second waits with Redis healthy: a waiter whose "lock taken"
 * reply is slow hears the holder's "landed" message before it listens for it; the holder's
 * store was fenced by a write, so the waiter finds nothing in Redis either, and waited for the
 * whole lockTtl. A waiter now listens before it tries the lock, so the message wakes it.
 */
describe("fleet lock wake-ups", () => {
  it("a waiter that hears the holder finish before its own lock attempt answered does not wait for lockTtl", async () => {
    const namespace = uniqueNamespace();
    const proxy = await delayingProxy(inject("redisUrl"), 300);
    // B's commands answer 300 ms late; its subscription (which carries wake-ups) is direct.
    const slowRedis = new Redis({ host: "127.0.0.1", port: proxy.port, maxRetriesPerRequest: 1 });
    routeCacheConnections(slowRedis, { subscriber: routeTo(inject("redisUrl")) });
    const options = { namespace, lockTtl: LOCK_TTL, redisTimeout: 3_000, models: { User: true } };
    const holder = createCachedClient(options);
    const waiter = createCachedClient({ ...options, redis: slowRedis });
    const writer = createCachedClient(options);
    try {
      const user = await writer.base.user.create({ data: { email: `wake-${namespace}@example.com`, name: "before" } });
      // Each instance's first read waits until it verified its Redis server (two round trips: 600 ms for the waiter).
      await Promise.all([holder, waiter, writer].map((c) => c.prisma.user.findUnique({ where: { id: -1 } })));
      await sleep(300); // subscriptions and leases up
      holder.pool.delayMs = 600;
      // The holder takes the lock and loads for 600 ms.
      const held = holder.prisma.user.findUnique({ where: { id: user.id } }).then((u) => u);
      for (let i = 0; i < 300 && (await writer.redis!.keys(`${namespace}:*:lock`)).length === 0; i++) await sleep(5);
      // A write during the load: the holder's store will be fenced (nothing stored), though it still wakes the waiters.
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after" } });
      const started = performance.now();
      const read = await waiter.prisma.user.findUnique({ where: { id: user.id } });
      const tookMs = performance.now() - started;
      await held;
      console.log(`waiter read took ${Math.round(tookMs)} ms; ${JSON.stringify({ holder: pick(holder.prisma.$cache.stats()), waiter: pick(waiter.prisma.$cache.stats()) })}`);
      expect(read?.name).toBe("after");
      expect(waiter.prisma.$cache.stats().lockWaits).toBeGreaterThan(0);
      // Woken by the holder's message (not by a timeout): far below the 10 s lock TTL.
      expect(waiter.prisma.$cache.stats().lockWaitTimeouts).toBe(0);
      expect(tookMs).toBeLessThan(LOCK_TTL / 2);
    } finally {
      await Promise.all([holder.close(), waiter.close(), writer.close()]);
      slowRedis.disconnect();
      proxy.close();
    }
  }, 60_000);

  it("a waiter does not queue again behind a holder cut off from Redis between its lock and its store; its wait is bounded by the model's load time, known from its own load", async () => {
    // The chaos run's reads over 1 s: a holder whose connection died after its SET NX (client
    // kill, auth change) stores and releases only once ioredis has reconnected. Its waiters used
    // to time out, find the lock still held, and wait again, three times in all.
    const namespace = uniqueNamespace();
    const redisPort = Number(new URL(inject("redisUrl")).port);
    const proxy = await TcpProxy.start(redisPort);
    const cutOffRedis = new Redis(proxy.url, { maxRetriesPerRequest: 1 });
    cutOffRedis.on("error", () => {});
    const options = { namespace, lockTtl: LOCK_TTL, models: { User: true } };
    const holder = createCachedClient({ ...options, redis: cutOffRedis });
    const waiter = createCachedClient(options);
    try {
      const user = await contendedUser(waiter, holder, namespace, "contended");
      holder.pool.delayMs = 800;
      const held = holder.prisma.user.findUnique({ where: { id: user.id } }).then((u) => u);
      let lockKeys: string[] = [];
      for (let i = 0; i < 300 && (lockKeys = await waiter.redis!.keys(`${namespace}:*:lock`)).length === 0; i++) await sleep(5);
      expect(lockKeys).toHaveLength(1);
      waiter.prisma.$cache.resetStats();
      const read = waiter.prisma.user.findUnique({ where: { id: user.id } }).then((u) => u);
      await sleep(50);
      proxy.cut(); // the holder's store, release and keep-alive cannot reach Redis: its lock stays
      expect((await read)?.name).toBe("contended");
      expect((await held)?.name).toBe("contended");
      const stats = waiter.prisma.$cache.stats();
      console.log(`waiter behind a cut-off holder: ${JSON.stringify(pick(stats))}`);
      // One wait, ended by its bound, then a load of its own (before: three waits, three timeouts).
      expect(pick(stats)).toMatchObject({ lockWaits: 1, lockWaitTimeouts: 1, lockAcquisitions: 0, dbLoads: 1 });
      expect(stats.lockWaitMs, "ended by the load-time bound, long before lockTtl").toBeLessThan(LOCK_TTL / 2);
      expect(await waiter.redis!.exists(lockKeys[0]!)).toBe(1); // the cut-off holder's lock, still standing
    } finally {
      proxy.restore();
      await Promise.all([holder.close(), waiter.close()]);
      cutOffRedis.disconnect();
      await proxy.stop();
    }
  }, 60_000);

  it("a new instance whose subscription is not up yet when the holder lands is woken once it subscribes, not at lockTtl (outside probe 121: 5 s reads after a hot reload)", async () => {
    const namespace = uniqueNamespace();
    // The new instance's subscriber hears every reply 500 ms late: it subscribes about 1.5 s after
    // it was made, long after the holder's landing was published. Its commands are direct.
    const proxy = await delayingProxy(inject("redisUrl"), 500);
    const slowSubscriber = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1 });
    routeCacheConnections(slowSubscriber, { subscriber: { host: "127.0.0.1", port: proxy.port } });
    // A lease of 5 s: the subscription being set up counts as heard for that long.
    const options = { namespace, lockTtl: LOCK_TTL, lease: { ttl: 5_000 }, models: { User: true } };
    const holder = createCachedClient(options);
    let fresh: ReturnType<typeof createCachedClient> | undefined;
    try {
      const user = await holder.base.user.create({ data: { email: `fresh-${namespace}@example.com`, name: "landed" } });
      await holder.prisma.user.findUnique({ where: { id: -1 } });
      await sleep(300); // the holder's subscription and lease up
      holder.pool.delayMs = 600;
      const held = holder.prisma.user.findUnique({ where: { id: user.id } }).then((u) => u);
      for (let i = 0; i < 300 && (await holder.redis!.keys(`${namespace}:*:lock`)).length === 0; i++) await sleep(5);
      fresh = createCachedClient({ ...options, redis: slowSubscriber });
      const read = await fresh.prisma.user.findUnique({ where: { id: user.id } });
      await held;
      const stats = fresh.prisma.$cache.stats();
      console.log(`new instance behind a holder: ${JSON.stringify(pick(stats))}`);
      expect(read?.name).toBe("landed");
      expect(stats.lockWaits).toBeGreaterThan(0);
      // Woken when it subscribed, it found the holder's value: no timeout, no load of its own.
      expect(pick(stats)).toMatchObject({ lockWaitTimeouts: 0, dbLoads: 0 });
      expect(holder.pool.queries).toBeGreaterThan(0);
    } finally {
      await Promise.all([holder.close(), fresh?.close()]);
      slowSubscriber.disconnect();
      proxy.close();
    }
  }, 60_000);

  it("a waiter past its bound goes on while the holder is alive, and when the holder's load fails, loads at once: no lock-wait timeout counted (outside probe 140)", async () => {
    const namespace = uniqueNamespace();
    const options = { namespace, lockTtl: LOCK_TTL, models: { User: true } };
    const holder = createCachedClient(options);
    const waiter = createCachedClient(options);
    try {
      const user = await contendedUser(waiter, holder, namespace, "failing");
      holder.pool.delayMs = 1_500;
      holder.pool.failWith = new Error("the holder's database went away");
      const held = holder.prisma.user.findUnique({ where: { id: user.id } }).then(() => "resolved", (error: Error) => error.message);
      for (let i = 0; i < 300 && (await waiter.redis!.keys(`${namespace}:*:lock`)).length === 0; i++) await sleep(5);
      waiter.prisma.$cache.resetStats();
      const started = performance.now();
      const read = await waiter.prisma.user.findUnique({ where: { id: user.id } });
      const waitedMs = performance.now() - started;
      expect(await held).toMatch(/went away/);
      expect(read?.name).toBe("failing");
      const stats = waiter.prisma.$cache.stats();
      console.log(`waiter behind a failing holder: ${JSON.stringify(pick(stats))}, ${waitedMs.toFixed(0)} ms`);
      // It waited past its bound for the live holder (not lockTtl), was woken by "nothing landed", and loaded.
      expect(waitedMs).toBeGreaterThan(1_000);
      expect(waitedMs).toBeLessThan(LOCK_TTL / 2);
      expect(pick(stats)).toMatchObject({ lockWaits: 1, lockWaitTimeouts: 0, dbLoads: 1 });
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
    }
  }, 60_000);
});

/**
 * A user named `name` for a holder and a waiter to contend over, once the waiter has timed a fast
 * load of User (its bound is then about 2 × redisTimeout, not lockTtl) and both are subscribed.
 */
async function contendedUser(waiter: ReturnType<typeof createCachedClient>, holder: ReturnType<typeof createCachedClient>, namespace: string, name: string) {
  const [known, user] = await Promise.all(
    ["known", name].map((each) => waiter.base.user.create({ data: { email: `${each}-${namespace}@example.com`, name: each } })),
  );
  await waiter.prisma.user.findUnique({ where: { id: known!.id } });
  await holder.prisma.$cache.stats();
  await sleep(300); // subscriptions and leases up
  return user!;
}

function pick(stats: { lockWaits: number; lockWaitTimeouts: number; lockAcquisitions: number; fencedStores: number; dbLoads: number }) {
  const { lockWaits, lockWaitTimeouts, lockAcquisitions, fencedStores, dbLoads } = stats;
  return { lockWaits, lockWaitTimeouts, lockAcquisitions, fencedStores, dbLoads };
}
