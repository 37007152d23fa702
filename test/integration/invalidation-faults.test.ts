import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBaseClient, createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until } from "../helpers/wait.ts";

describe("stale-set fencing", () => {
  it("a load that read before a write is not stored after the write's invalidation", async () => {
    const namespace = uniqueNamespace();
    const reader = createCachedClient({ namespace });
    const writer = createCachedClient({ namespace });
    const third = createCachedClient({ namespace });
    try {
      const user = await seedUser(reader.base);
      // The reader's query reaches the database at once but its result comes back 300 ms later.
      reader.pool.delayResultMs = 300;
      const slowRead = reader.prisma.user.findUnique({ where: { id: user.id } }).then((row) => row);
      await sleep(100);
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after the read" } });
      expect((await slowRead)?.name, "the slow read began before the write").toBe(user.name);
      reader.pool.delayResultMs = 0;
      await sleep(20);
      expect(reader.prisma.$cache.stats().fencedStores).toBeGreaterThanOrEqual(1);
      expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("after the read");
      expect((await third.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("after the read");
    } finally {
      await Promise.all([reader.close(), writer.close(), third.close()]);
    }
  });
});

describe("faults around invalidation", () => {
  let chaos: ChaosRedis;
  let userId: number;
  beforeAll(async () => {
    chaos = await ChaosRedis.start();
    const { base } = createBaseClient();
    userId = (await seedUser(base)).id;
    await base.$disconnect();
  });
  afterAll(() => chaos.stop());

  function instance(namespace: string) {
    const redis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => {});
    const c = createCachedClient({ namespace, redis, redisTimeout: 100 });
    return { ...c, close: async () => (await c.close(), redis.disconnect()) };
  }

  it("Redis unreachable during a write: the write succeeds, its invalidation is retried, nothing stale is served once Redis is back", async () => {
    const namespace = uniqueNamespace();
    const a = instance(namespace);
    const b = instance(namespace);
    try {
      const read = (c: typeof a) => c.prisma.user.findUnique({ where: { id: userId } });
      await read(a);
      await read(b);
      chaos.pause();
      const updated = await b.prisma.user.update({ where: { id: userId }, data: { name: "written while Redis was down" } });
      expect(updated.name).toBe("written while Redis was down");
      expect(b.prisma.$cache.stats().pendingInvalidations).toBeGreaterThan(0);
      expect(b.prisma.$cache.stats().invalidationsQueued).toBe(1);
      // The writer stops trusting what it cached about the record at once.
      expect((await read(b))?.name).toBe("written while Redis was down");
      expect(b.prisma.$cache.stats().bypasses["pending invalidation"]).toBeGreaterThanOrEqual(1);
      chaos.resume();
      await until(() => b.prisma.$cache.stats().pendingInvalidations === 0);
      await until(() => a.prisma.$cache.stats().invalidationsReceived > 0);
      expect((await read(a))?.name).toBe("written while Redis was down");
      const fresh = instance(namespace);
      try {
        expect((await read(fresh))?.name).toBe("written while Redis was down");
      } finally {
        await fresh.close();
      }
    } finally {
      chaos.resume();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("an instance whose subscription drops flushes its L1, says so once (E_SUBSCRIPTION_LOST), and serves none until it is back", async () => {
    const namespace = uniqueNamespace();
    const a = instance(namespace);
    const errors: string[] = [];
    a.prisma.$cache.events.on("error", (event: { error: { code: string } }) => errors.push(event.error.code));
    try {
      const read = () => a.prisma.post.count({ where: { authorId: userId } });
      await until(async () => (await read(), a.prisma.$cache.stats().l1Entries > 0));
      const admin = new Redis(chaos.url);
      await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
      admin.disconnect();
      await until(() => a.prisma.$cache.stats().bypasses["subscription down"] === 1);
      expect(a.prisma.$cache.stats().l1Entries).toBe(0);
      // Reported: the server may be the one closing it (an outside probe: a small `client-output-buffer-limit
      // pubsub` dropped every subscriber at each large invalidation, and nothing reached onError).
      expect(errors.filter((code) => code === "E_SUBSCRIPTION_LOST")).toHaveLength(1);
      // Back again: the subscription is re-established and L1 is used once more.
      await until(async () => {
        const hits = a.prisma.$cache.stats().l1Hits;
        await read();
        await read();
        return a.prisma.$cache.stats().l1Hits > hits;
      });
      expect(errors.filter((code) => code === "E_SUBSCRIPTION_LOST")).toHaveLength(1);
    } finally {
      await a.close();
    }
    // close() takes the subscription down too, without reporting it.
    expect(errors.filter((code) => code === "E_SUBSCRIPTION_LOST")).toHaveLength(1);
  });
});
