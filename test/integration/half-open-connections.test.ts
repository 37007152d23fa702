import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { channelsOf } from "../../src/invalidation/wire-format.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";
import { sleep, until } from "../helpers/wait.ts";

/**
 * A half-open connection: both ends still open, nothing passing (a middlebox that lost the flow,
 * a peer gone without a FIN). Found by an outside probe: on the subscriber connection, the lease
 * heartbeat stayed unanswered forever, so the instance served no L1, and the server kept counting
 * the dead subscription among PUBLISH's receivers, so every write in the fleet waited a lease for
 * it; on a writer's command connection, every write resolved with its invalidation undelivered.
 */
describe("a half-open subscriber connection", () => {
  it("is dropped and replaced: L1 answers again, and the server no longer counts the old one, so writes are acknowledged by all", async () => {
    const chaos = await ChaosRedis.start();
    const proxy = await TcpProxy.start(chaos.port);
    const admin = new Redis(chaos.url);
    const namespace = uniqueNamespace();
    // The reader's commands go straight to Redis; its subscriber connection goes through the proxy.
    const readerRedis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
    readerRedis.duplicate = (override) => new Redis({ ...readerRedis.options, ...override, host: "127.0.0.1", port: proxy.port });
    const reader = createCachedClient({ namespace, redis: readerRedis, models: { User: true } });
    const writerRedis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
    const writer = createCachedClient({ namespace, redis: writerRedis, models: { User: true } });
    const events = channelsOf(`{${namespace}}`, 0).events;
    const subscribers = async () => ((await admin.pubsub("NUMSUB", events)) as [string, number])[1];
    try {
      const user = await seedUser(writer.base);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      const l1Hits = () => reader.prisma.$cache.stats().l1Hits;
      await until(async () => (await read(), l1Hits() > 0), 10_000);
      await until(async () => (await subscribers()) === 2, 10_000);

      proxy.freeze();
      // The lease lapses (no heartbeat answered): L1 stops answering.
      await sleep(1_500);
      await read();
      const before = l1Hits();
      // The subscriber's socket times out, reconnects (new connections pass) and subscribes again.
      await until(async () => (await read(), l1Hits() > before), 20_000, 50);
      await until(async () => (await subscribers()) === 2, 5_000);

      const timeouts = writer.prisma.$cache.stats().invalidationAckTimeouts;
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after the half-open subscriber" } });
      expect(writer.prisma.$cache.stats().invalidationAckTimeouts, "every subscriber the server counts acknowledged the write").toBe(timeouts);
      expect((await read())?.name).toBe("after the half-open subscriber");
    } finally {
      await Promise.all([reader.close(), writer.close()]);
      readerRedis.disconnect();
      writerRedis.disconnect();
      admin.disconnect();
      await proxy.stop();
      await chaos.stop();
    }
  }, 60_000);
});

describe("a half-open command connection", () => {
  it("is dropped once the circuit breaker's probes go unanswered on it: a write that could not reach Redis is delivered before it resolves, and no instance serves the old row", async () => {
    const chaos = await ChaosRedis.start();
    const proxy = await TcpProxy.start(chaos.port);
    const namespace = uniqueNamespace();
    // The writer's commands go through the proxy; its subscriber connection straight to Redis.
    const writerRedis = new Redis(proxy.url, { maxRetriesPerRequest: 1 });
    writerRedis.on("error", () => {});
    writerRedis.duplicate = (override) => new Redis({ ...writerRedis.options, ...override, host: "127.0.0.1", port: chaos.port });
    const reported: string[] = [];
    const writer = createCachedClient({ namespace, redis: writerRedis, models: { User: true }, onError: (error) => void reported.push(error.message) });
    const readerRedis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
    const reader = createCachedClient({ namespace, redis: readerRedis, models: { User: true } });
    try {
      const user = await seedUser(writer.base);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      await until(async () => (await read(), reader.prisma.$cache.stats().l1Hits > 0), 10_000);
      await writer.prisma.user.findUnique({ where: { id: user.id } });

      proxy.freeze();
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written over a half-open connection" } });
      const stats = writer.prisma.$cache.stats();
      expect(stats.unresponsiveConnectionsDropped, "the half-open socket was dropped").toBeGreaterThanOrEqual(1);
      expect(stats.undeliveredWrites, "its invalidation was delivered before the write resolved").toBe(0);
      expect(reported.some((message) => message.includes("half-open"))).toBe(true);
      expect((await read())?.name).toBe("written over a half-open connection");
      // The writer's cache works again over the new connection.
      await until(async () => (await writer.prisma.user.findUnique({ where: { id: user.id } }), writer.prisma.$cache.stats().l1Hits + writer.prisma.$cache.stats().l2Hits > stats.l1Hits + stats.l2Hits), 10_000, 50);
    } finally {
      await Promise.all([reader.close(), writer.close()]);
      readerRedis.disconnect();
      writerRedis.disconnect();
      await proxy.stop();
      await chaos.stop();
    }
  }, 60_000);
});
