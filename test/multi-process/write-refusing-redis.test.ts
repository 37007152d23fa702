import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { startChild } from "../helpers/child-process.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";

interface ReaderReport {
  samples: Array<[number, string | null]>;
  l1Hits: number;
  bypasses: Record<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// `min-replicas-to-write` (advised for Sentinel primaries) with its replica gone, or a failed RDB
// save (`MISCONF`): Redis answers reads and PINGs, and refuses every write. The writer's
// invalidation is refused, so it resolves after redisDownWriteWait with it queued; the readers'
// leases hold all along (their PINGs are answered), their L1 and Redis's entries keep the old row.
describe("a Redis that refuses writes (NOREPLICAS) for longer than a registration lives, then takes them again", () => {
  it("no reader returns the old row after the write resolved, during the refusal or after it, nor one started during it; L1 serves again", async () => {
    const chaos = await ChaosRedis.start();
    const admin = new Redis(chaos.url);
    const namespace = uniqueNamespace();
    const writer = createCachedClient({ namespace, redis: new Redis(chaos.url, { maxRetriesPerRequest: 1 }), models: { User: true } });
    try {
      const user = await seedUser(writer.base);
      const common = { DATABASE_URL: inject("databaseUrl"), NAMESPACE: namespace, USER_ID: String(user.id), REDIS_URL: chaos.url };
      const readers = [0, 1].map(() => startChild<ReaderReport>("loop-reader.ts", { ...common, DURATION_MS: "17000" }));
      await writer.prisma.user.findUnique({ where: { id: user.id } });
      await sleep(2_500);

      await admin.config("SET", "min-replicas-to-write", "1");
      const refusedAt = Date.now();
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written while Redis refused writes" } });
      const resolvedAt = machineNow();
      // An instance started now (a deploy during the refusal) was never registered: Redis still holds the old row.
      readers.push(startChild<ReaderReport>("loop-reader.ts", { ...common, DURATION_MS: "7000" }));
      // Longer than the write's own wait (redisDownWriteWait + lease): the readers' registrations lapse meanwhile.
      await sleep(Math.max(0, refusedAt + 9_000 - Date.now()));
      await admin.config("SET", "min-replicas-to-write", "0");
      const reports = await Promise.all(readers.map((reader) => reader.result));

      expect(writer.prisma.$cache.stats().undeliveredWrites, "the write resolved with its invalidation refused").toBe(1);
      for (const report of reports) {
        expect(report.l1Hits, "every reader served from L1 (the late one once Redis took writes again)").toBeGreaterThan(0);
        const after = report.samples.filter(([started]) => started > resolvedAt);
        expect(after.length, "reads after the write resolved").toBeGreaterThan(100);
        expect(after.filter(([, name]) => name !== "written while Redis refused writes")).toEqual([]);
      }
      // Delivered once Redis took writes again: close() has nothing left to deliver.
      await expect(writer.prisma.$cache.close()).resolves.toBeUndefined();
    } finally {
      await admin.config("SET", "min-replicas-to-write", "0").catch(() => undefined);
      admin.disconnect();
      await writer.close();
      await chaos.stop();
    }
  }, 90_000);

  it("$cache.invalidate() after a write made elsewhere: it resolves only once no reader can serve the old row (an outside probe: 316 stale reads after it resolved)", async () => {
    const chaos = await ChaosRedis.start();
    const admin = new Redis(chaos.url);
    const namespace = uniqueNamespace();
    const invalidator = createCachedClient({ namespace, redis: new Redis(chaos.url, { maxRetriesPerRequest: 1 }), models: { User: true } });
    try {
      const user = await seedUser(invalidator.base);
      const common = { DATABASE_URL: inject("databaseUrl"), NAMESPACE: namespace, USER_ID: String(user.id), REDIS_URL: chaos.url };
      const readers = [0, 1].map(() => startChild<ReaderReport>("loop-reader.ts", { ...common, DURATION_MS: "13000" }));
      await sleep(2_500);
      await admin.config("SET", "min-replicas-to-write", "1");
      const refusedAt = Date.now();
      // Another service's write, then the invalidation it owes the cache.
      await invalidator.base.user.update({ where: { id: user.id }, data: { name: "written elsewhere while Redis refused writes" } });
      await invalidator.prisma.$cache.invalidate({ model: "User" });
      const resolvedAt = machineNow();
      await sleep(Math.max(0, refusedAt + 8_000 - Date.now()));
      await admin.config("SET", "min-replicas-to-write", "0");
      const reports = await Promise.all(readers.map((reader) => reader.result));

      for (const report of reports) {
        expect(report.l1Hits, "the readers served from L1").toBeGreaterThan(0);
        const after = report.samples.filter(([started]) => started > resolvedAt);
        expect(after.length, "reads after invalidate() resolved").toBeGreaterThan(100);
        expect(after.filter(([, name]) => name !== "written elsewhere while Redis refused writes")).toEqual([]);
      }
      expect(invalidator.prisma.$cache.stats().undeliveredWrites, "it resolved with its invalidation still refused, counted").toBe(1);
    } finally {
      await admin.config("SET", "min-replicas-to-write", "0").catch(() => undefined);
      admin.disconnect();
      await invalidator.close();
      await chaos.stop();
    }
  }, 90_000);
});
