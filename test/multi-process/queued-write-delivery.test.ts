import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { startChild } from "../helpers/child-process.ts";
import { seedUser } from "../helpers/seed.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { databaseUrl } from "../helpers/databases.ts";

interface ReaderReport {
  samples: Array<[number, string | null]>;
  l1Hits: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** How late the reader hears invalidations: its subscription sits behind a slow link. */
const SUB_DELAY_MS = 400;

describe("a write Redis could not take, delivered once Redis is back", () => {
  // The write is unannounced (Redis was unreachable before it ran), so nothing in Redis kept the
  // row uncached; it must not resolve when Redis took its queued bump, but once every instance
  // applied it: the reader below, which hears it 400 ms later, would serve its L1 copy until then.
  it("resolves only after the other instances applied it: no read started after it returns the old row", async () => {
    const namespace = uniqueNamespace();
    const proxy = await TcpProxy.start(Number(new URL(inject("redisUrl")).port));
    const writer = createCachedClient({ namespace, models: { User: true }, redis: new Redis(proxy.url, { maxRetriesPerRequest: 1 }), redisDownWriteWait: 20_000 });
    writer.redis!.on("error", () => {});
    try {
      const user = await seedUser(writer.base);
      const reader = startChild<ReaderReport>("loop-reader.ts", { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, USER_ID: String(user.id), DURATION_MS: "9000", SUB_DELAY_MS: String(SUB_DELAY_MS) });
      await writer.prisma.user.findUnique({ where: { id: user.id } });
      await sleep(2_500);
      proxy.cut();
      const written = writer.prisma.user.update({ where: { id: user.id }, data: { name: "written while Redis was unreachable" } });
      // The announcement and the confirmation fail, the bump is queued, the lease waited out.
      await sleep(2_000);
      proxy.restore();
      await written;
      const resolvedAt = machineNow();
      const stats = writer.prisma.$cache.stats();
      const report = await reader.result;

      expect(stats.unannouncedWrites, "the write ran unannounced").toBe(1);
      expect(stats.invalidationsQueued, "its bump was queued").toBeGreaterThanOrEqual(1);
      expect(stats.undeliveredWrites, "it resolved after delivery, not after redisDownWriteWait").toBe(0);
      expect(report.l1Hits, "the reader served from L1").toBeGreaterThan(0);
      const after = report.samples.filter(([started]) => started > resolvedAt);
      expect(after.length, "reads after the write resolved").toBeGreaterThan(10);
      expect(after.filter(([, name]) => name !== "written while Redis was unreachable")).toEqual([]);
    } finally {
      await writer.close();
      writer.redis?.disconnect();
      await proxy.stop();
    }
  }, 60_000);
});
