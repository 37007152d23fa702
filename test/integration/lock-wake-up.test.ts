import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";

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
    slowRedis.duplicate = () => new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1 });
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
});

function pick(stats: { lockWaits: number; lockWaitTimeouts: number; lockAcquisitions: number; fencedStores: number; dbLoads: number }) {
  const { lockWaits, lockWaitTimeouts, lockAcquisitions, fencedStores, dbLoads } = stats;
  return { lockWaits, lockWaitTimeouts, lockAcquisitions, fencedStores, dbLoads };
}
