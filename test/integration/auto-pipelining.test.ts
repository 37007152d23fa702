import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import type { CacheError } from "../../src/index.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until } from "../helpers/wait.ts";

/**
 * Many apps turn on ioredis' `enableAutoPipelining`. Its auto-pipeline sends a generic
 * `callBuffer("EVALSHA", sha, …)` with the sha as the command name ("ERR unknown command"), which
 * made every Bloom filter load fail: the guard never served, and every load was reported.
 */
/** Reads a user until a read is served from Redis (the first one stores it). */
async function untilL2Hit(client: ReturnType<typeof createCachedClient>, id: number, timeoutMs: number): Promise<void> {
  await until(async () => {
    const before = client.prisma.$cache.stats().l2Hits;
    await client.prisma.user.findUnique({ where: { id } });
    return client.prisma.$cache.stats().l2Hits > before;
  }, timeoutMs);
}

describe("a Redis client with enableAutoPipelining or a commandTimeout", () => {
  it("serves reads, invalidates writes and loads Bloom filters like any client", async () => {
    const namespace = uniqueNamespace();
    const errors: CacheError[] = [];
    const open = () => {
      const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1, enableAutoPipelining: true });
      // A generous redisTimeout: the test is about commands auto-pipelining breaks, not a loaded machine's slow replies.
      return createCachedClient({ namespace, redis, redisTimeout: 3_000, models: { User: { bloom: true } }, onError: (error) => errors.push(error) });
    };
    const [a, b] = [open(), open()];
    try {
      const user = await seedUser(a.base);
      await a.prisma.$cache.prepareBloom();
      await b.prisma.$cache.prepareBloom();
      expect((await b.prisma.user.findUnique({ where: { id: user.id } }))?.email).toBe(user.email);
      expect((await b.prisma.user.findUnique({ where: { id: user.id } }))?.email).toBe(user.email);
      await a.prisma.user.update({ where: { id: user.id }, data: { name: "renamed with auto-pipelining" } });
      expect((await b.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("renamed with auto-pipelining");
      const created = await a.prisma.user.create({ data: { email: `pipelined-${namespace}@example.com`, name: "new" } });
      expect((await b.prisma.user.findUnique({ where: { email: created.email } }))?.id).toBe(created.id);
      // An identity no row ever had: answered by b's Bloom filter, loaded from Redis, without the database.
      const queries = b.pool.queries;
      expect(await b.prisma.user.findUnique({ where: { email: `never-${namespace}@example.com` } })).toBeNull();
      expect(b.pool.queries).toBe(queries);
      expect(b.prisma.$cache.stats()).toMatchObject({ redisErrors: 0, redisTimeouts: 0 });
      expect(b.prisma.$cache.stats().l1Hits + b.prisma.$cache.stats().l2Hits).toBeGreaterThan(0);
      expect(errors.map((error) => error.message)).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      a.redis?.disconnect();
      b.redis?.disconnect();
    }
  }, 30_000);

  it("recovers once its connections are killed with commands in flight: the cache's connections do not auto-pipeline (outside probe 182)", async () => {
    const server = await ChaosRedis.start();
    const namespace = uniqueNamespace();
    const clients: Redis[] = [];
    const open = (l1: boolean) => {
      const redis = new Redis(server.url, { maxRetriesPerRequest: 1, enableAutoPipelining: true });
      clients.push(redis);
      // The app's own connection is killed too; its ready check may time out at 20 ms as it comes back.
      redis.on("error", () => {});
      // No hot keys: eight readers of one key make it hot, and a hot key stays in L1 even with
      // `l1: false`, so the reader would never need Redis again to show it recovered.
      return createCachedClient({ namespace, redis, hotKeys: false, models: { User: { l1 } }, onError: () => {} });
    };
    const [reader, writer] = [open(false), open(true)];
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      const user = await seedUser(writer.base);
      await untilL2Hit(reader, user.id, 10_000);
      // Reads in flight on the cache's connections (an auto-pipeline each tick) when they are killed.
      let reading = true;
      const readers = Array.from({ length: 8 }, async () => {
        while (reading) await reader.prisma.user.findUnique({ where: { id: user.id } });
      });
      for (let kill = 0; kill < 3; kill++) {
        await sleep(200);
        await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
      }
      reading = false;
      await Promise.all(readers);
      // Before: the killed auto-pipeline was never settled, every later command queued behind it,
      // and the reader bypassed Redis (circuit open) for good; the writer's invalidations went undelivered.
      await untilL2Hit(reader, user.id, 15_000);
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after the kills" } });
      expect(writer.prisma.$cache.stats().undeliveredWrites ?? 0).toBe(0);
      expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("after the kills");
    } finally {
      await Promise.allSettled([reader.close(), writer.close()]);
      for (const client of [admin, ...clients]) client.disconnect();
      await server.stop();
    }
  }, 60_000);

  it("an app's commandTimeout shorter than the link's round trip is not the cache's deadline (outside probe 182)", async () => {
    // Replies 40 ms late; the app gives its own commands 20 ms, the cache its redisTimeout (250 ms).
    const proxy = await delayingProxy(inject("redisUrl"), 40);
    const redis = new Redis(proxy.port, "127.0.0.1", { maxRetriesPerRequest: 1, commandTimeout: 20, lazyConnect: true });
    redis.on("error", () => {});
    const client = createCachedClient({ redis, models: { User: { l1: false } }, onError: () => {} });
    try {
      const user = await seedUser(client.base);
      // Before: every call of the cache timed out at 20 ms (redisErrors), and no read ever hit.
      await untilL2Hit(client, user.id, 15_000);
      expect(client.prisma.$cache.stats().redisErrors).toBe(0);
    } finally {
      await client.close();
      redis.disconnect();
      proxy.close();
    }
  }, 60_000);
});
