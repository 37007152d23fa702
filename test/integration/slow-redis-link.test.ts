import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { UndeliveredInvalidationsError } from "../../src/index.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

/**
 * A writer whose link to Redis works but is slower than `redisTimeout` (400 ms replies against
 * 250 ms): its calls time out and open its circuit, whose probe times out too. Found by outside
 * probe 159: its invalidations were never sent while the circuit stayed open, and an instance on a
 * good link served the old rows for 18 s to over 30 s after each write resolved.
 */
describe("a writer on a slow Redis link", () => {
  it("still delivers its invalidations: another instance reads each write once it resolved", async () => {
    const proxy = await delayingProxy(inject("redisUrl"), 400);
    const namespace = uniqueNamespace();
    const slowRedis = new Redis(`redis://127.0.0.1:${proxy.port}`, { maxRetriesPerRequest: 1 });
    slowRedis.on("error", () => {});
    const writer = createCachedClient({ namespace, redis: slowRedis, models: { User: true }, onError: () => {} });
    const readerRedis = createRedis();
    const reader = createCachedClient({ namespace, redis: readerRedis, models: { User: true } });
    try {
      const user = await seedUser(reader.base);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      await until(async () => (await read(), reader.prisma.$cache.stats().l1Hits > 0), 10_000);
      // The writer's reads time out until its circuit opens: its writes then start with it open.
      await until(async () => (await writer.prisma.user.count(), writer.prisma.$cache.stats().circuitOpen), 20_000, 10);
      for (const name of ["first over a slow link", "second over a slow link"]) {
        await writer.prisma.user.update({ where: { id: user.id }, data: { name } });
        expect((await read())?.name, name).toBe(name);
      }
      expect(writer.prisma.$cache.stats().circuitOpens, "the writer's circuit opened").toBeGreaterThan(0);
    } finally {
      // Its bumps' replies came too late: close() cannot tell they were delivered, and says so.
      await writer.close().catch((error: unknown) => {
        if (!(error instanceof UndeliveredInvalidationsError)) throw error;
      });
      await reader.close();
      slowRedis.disconnect();
      readerRedis.disconnect();
      proxy.close();
    }
  }, 60_000);
});
