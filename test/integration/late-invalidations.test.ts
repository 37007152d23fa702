import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until } from "../helpers/wait.ts";
import { routeCacheConnections } from "../helpers/connection-routes.ts";

/**
 * A reader whose invalidations arrive late (its subscriber link is slow, so its lease never
 * holds) learns of a write only after the write resolved. What it keeps in process may then be
 * older than that write: it must not answer from it — not from L1, not by letting a read started
 * after the write join a load started before it, not from its copy of a Bloom filter.
 */
describe("an instance that hears of writes late answers nothing from what it keeps in process", () => {
  /** A reader whose subscriber link delays everything by 1.5 s, subscribed, and a writer. */
  async function lateReader(models: NonNullable<Parameters<typeof createCachedClient>[0]>["models"]) {
    const namespace = uniqueNamespace();
    const proxy = await delayingProxy(inject("redisUrl"), 1_500);
    const slowRedis = createRedis();
    routeCacheConnections(slowRedis, { subscriber: { host: "127.0.0.1", port: proxy.port } });
    const reader = createCachedClient({ namespace, models, redis: slowRedis });
    const writer = createCachedClient({ namespace, models });
    await reader.prisma.user.count();
    const admin = createRedis();
    await until(async () => ((await admin.pubsub("NUMSUB", `{${namespace}}:events`)) as [string, number])[1] === 1, 20_000);
    admin.disconnect();
    // The subscription's reply is on its way: the reader counts as subscribed once it arrived.
    await sleep(2_500);
    return {
      reader,
      writer,
      async close() {
        await reader.close();
        await writer.close();
        slowRedis.disconnect();
        proxy.close();
      },
    };
  }

  it("a Bloom filter copy that has not learnt a created record yet says nothing about it", async () => {
    const { reader, writer, close } = await lateReader({ User: { bloom: true } });
    try {
      await writer.prisma.$cache.prepareBloom();
      await reader.prisma.$cache.prepareBloom();
      // The filters guard: an instance that hears of writes in time answers an absent record from its copy.
      expect(await writer.prisma.user.findUnique({ where: { email: `nobody-${uniqueNamespace()}@example.com` } })).toBeNull();
      expect(writer.prisma.$cache.stats().bloomRejects).toBe(1);
      const created = await seedUser(writer.prisma as never);
      const read = await reader.prisma.user.findUnique({ where: { id: created.id } });
      expect(read?.email, "a record created by a write that resolved before the read").toBe(created.email);
    } finally {
      await close();
    }
  }, 60_000);

  it("a read started after a write resolved does not join a load that read the row before it, where the invalidation is late", async () => {
    const { reader, writer, close } = await lateReader({ User: true });
    try {
      const user = await seedUser(writer.base);
      // The first read's query runs now, but its result is held for 3 s (a slow load that read early).
      reader.pool.delayResultMs = 3_000;
      const queries = reader.pool.queries;
      const first = reader.prisma.user.findUnique({ where: { id: user.id } }).then((row) => row);
      await until(() => reader.pool.queries > queries);
      await sleep(100);
      reader.pool.delayResultMs = 0;
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written while a load was in flight" } });
      const second = await reader.prisma.user.findUnique({ where: { id: user.id } });
      expect(second?.name, "the read started after the write resolved").toBe("written while a load was in flight");
      expect((await first)?.name, "the read started before the write").toBe(user.name);
    } finally {
      await close();
    }
  }, 60_000);
});
