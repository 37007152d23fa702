import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until } from "../helpers/wait.ts";

/**
 * Reads of one key share a lookup and a load while no invalidation reached the process in
 * between. A reader whose invalidations arrive late (its subscriber link is slow, so its lease
 * never holds) learns of a write only after the write resolved: such a reader must not let a
 * read started after the write join a load started before it.
 */
describe("shared loads", () => {
  it("a read started after a write resolved does not join a load that read the row before it, where the invalidation is late", async () => {
    const namespace = uniqueNamespace();
    // Every message and heartbeat reply reaches the reader 1.5 s late: its lease never holds,
    // and the writer resolves (once the reader's lease must have lapsed) before the reader hears of the write.
    const proxy = await delayingProxy(inject("redisUrl"), 1_500);
    const slowRedis = createRedis();
    slowRedis.duplicate = (override) => new Redis({ ...slowRedis.options, ...override, host: "127.0.0.1", port: proxy.port });
    const reader = createCachedClient({ namespace, models: { User: true }, redis: slowRedis });
    const writer = createCachedClient({ namespace, models: { User: true } });
    try {
      const user = await seedUser(writer.base);
      await reader.prisma.user.count();
      const admin = createRedis();
      await until(async () => ((await admin.pubsub("NUMSUB", `{${namespace}}:events`)) as [string, number])[1] === 1, 20_000);
      admin.disconnect();
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
      await reader.close();
      await writer.close();
      slowRedis.disconnect();
      proxy.close();
    }
  }, 60_000);
});
