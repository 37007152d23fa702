import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { UndeliveredInvalidationsError } from "../../src/index.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
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
    await writeOverSlowLinkAndRead(inject("redisUrl"), { circuitOpenFirst: true, concurrentWrites: 1 });
  }, 60_000);

  // Outside probe 161 (a private server): the bump script's first EVALSHA got its NOSCRIPT after
  // the call was given up, so it was never re-sent as EVAL, nor was any later one: no write of
  // that writer reached the fleet, and the reader served the old rows for as long as it ran.
  it("loads its scripts on a server that never ran them, whose NOSCRIPT comes after each call was given up", async () => {
    const server = await ChaosRedis.start();
    try {
      await writeOverSlowLinkAndRead(server.url, { circuitOpenFirst: false, concurrentWrites: 2 });
    } finally {
      await server.stop();
    }
  }, 90_000);
});

async function writeOverSlowLinkAndRead(redisUrl: string, { circuitOpenFirst, concurrentWrites }: { circuitOpenFirst: boolean; concurrentWrites: number }): Promise<void> {
  const proxy = await delayingProxy(redisUrl, 400);
  const namespace = uniqueNamespace();
  const slowRedis = new Redis(`redis://127.0.0.1:${proxy.port}`, { maxRetriesPerRequest: 1 });
  slowRedis.on("error", () => {});
  const writer = createCachedClient({ namespace, redis: slowRedis, models: { User: true }, onError: () => {} });
  const readerRedis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const reader = createCachedClient({ namespace, redis: readerRedis, models: { User: true } });
  try {
    const users = await Promise.all(Array.from({ length: concurrentWrites }, () => seedUser(reader.base)));
    const read = (id: number) => reader.prisma.user.findUnique({ where: { id } });
    const readAll = () => Promise.all(users.map((user) => read(user.id)));
    await until(async () => (await readAll(), reader.prisma.$cache.stats().l1Hits >= users.length), 10_000);
    // The writer's reads time out until its circuit opens: its writes then start with it open.
    if (circuitOpenFirst) await until(async () => (await writer.prisma.user.count(), writer.prisma.$cache.stats().circuitOpen), 20_000, 10);
    for (const round of ["first", "second"]) {
      await Promise.all(
        users.map(async (user, i) => {
          const name = `${round} write of user ${i} over a slow link`;
          await writer.prisma.user.update({ where: { id: user.id }, data: { name } });
          expect((await read(user.id))?.name, name).toBe(name);
        }),
      );
    }
    if (circuitOpenFirst) expect(writer.prisma.$cache.stats().circuitOpens, "the writer's circuit opened").toBeGreaterThan(0);
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
}
