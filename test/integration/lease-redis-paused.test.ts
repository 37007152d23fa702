import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";

const LEASE_TTL = 1_000;

/**
 * Redis paused (SIGSTOP): subscriptions stay open, so without a lease every instance's L1 stayed
 * trusted and served rows that a write had changed. Now a write whose invalidation Redis cannot
 * take resolves only once every lease renewed before the failure has lapsed, and an instance
 * that cannot hear Redis stops answering from L1 when its lease lapses.
 */
describe("L1 lease with Redis paused", () => {
  it("a write resolves after the lease, and another instance then returns the new row, not its L1 copy", async () => {
    const server = await ChaosRedis.start();
    const namespace = uniqueNamespace();
    const connect = () => new Redis(server.url, { maxRetriesPerRequest: 1 });
    const options = { namespace, models: { User: true }, lease: { ttl: LEASE_TTL } };
    const writer = createCachedClient({ ...options, redis: connect() });
    const reader = createCachedClient({ ...options, redis: connect() });
    try {
      const user = await writer.base.user.create({ data: { email: `paused-${namespace}@example.com`, name: "before" } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await reader.prisma.user.findUnique({ where: { id: user.id } });
      await reader.prisma.user.findUnique({ where: { id: user.id } });
      expect(reader.prisma.$cache.stats().l1Hits).toBe(1);

      server.pause();
      const started = performance.now();
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after" } });
      const writeMs = performance.now() - started;
      const read = await reader.prisma.user.findUnique({ where: { id: user.id } });
      server.resume();

      expect(writer.prisma.$cache.stats().invalidationsQueued).toBe(1);
      expect(writeMs).toBeGreaterThanOrEqual(LEASE_TTL * 0.9);
      expect(read?.name).toBe("after");
      expect(reader.prisma.$cache.stats().l1Hits).toBe(1);
    } finally {
      server.resume();
      await Promise.all([writer.close(), reader.close()]);
      writer.redis?.disconnect();
      reader.redis?.disconnect();
      await server.stop();
    }
  }, 60_000);
});
