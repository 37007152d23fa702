import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { startChild, type Child } from "../helpers/child-process.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";
import { databaseUrl } from "../helpers/databases.ts";

interface ReaderReport {
  samples: Array<[number, string | null]>;
  l1Hits: number;
  bypasses: Record<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a test of a refusal works with: a cache instance in this process, and a reader process started on demand. */
interface RefusalSetup {
  cached: ReturnType<typeof createCachedClient>;
  user: Awaited<ReturnType<typeof seedUser>>;
  startReader(durationMs: number): Child<ReaderReport>;
  /** Makes the private Redis refuse writes (NOREPLICAS) until `refusedFor` ms after now have passed, then take them again. */
  refuse(refusedFor: number): Promise<() => Promise<void>>;
}

/** A private Redis, a seeded user, and two reader processes reading it in a loop for `readFor` ms (their L1 warmed first). */
async function withRefusingRedis(readFor: number, run: (setup: RefusalSetup, readers: Array<Child<ReaderReport>>) => Promise<void>): Promise<void> {
  const chaos = await ChaosRedis.start();
  const admin = new Redis(chaos.url);
  const namespace = uniqueNamespace();
  const redis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
  const cached = createCachedClient({ namespace, redis, models: { User: true } });
  try {
    const user = await seedUser(cached.base);
    const common = { DATABASE_URL: databaseUrl(), NAMESPACE: namespace, USER_ID: String(user.id), REDIS_URL: chaos.url };
    const startReader = (durationMs: number) => startChild<ReaderReport>("loop-reader.ts", { ...common, DURATION_MS: String(durationMs) });
    const readers = [startReader(readFor), startReader(readFor)];
    await cached.prisma.user.findUnique({ where: { id: user.id } });
    await sleep(2_500);
    const refuse = async (refusedFor: number) => {
      await admin.config("SET", "min-replicas-to-write", "1");
      const until = Date.now() + refusedFor;
      return async () => {
        await sleep(Math.max(0, until - Date.now()));
        await admin.config("SET", "min-replicas-to-write", "0");
      };
    };
    await run({ cached, user, startReader, refuse }, readers);
  } finally {
    await admin.config("SET", "min-replicas-to-write", "0").catch(() => undefined);
    admin.disconnect();
    await cached.close();
    redis.disconnect();
    await chaos.stop();
  }
}

/** Every reader served from L1, and none returned anything but `name` once `resolvedAt` (the machine's clock) had passed. */
function expectNoneOlder(reports: readonly ReaderReport[], resolvedAt: number, name: string): void {
  for (const report of reports) {
    expect(report.l1Hits, "every reader served from L1 (a late one once Redis took writes again)").toBeGreaterThan(0);
    const after = report.samples.filter(([started]) => started > resolvedAt);
    expect(after.length, "reads after it resolved").toBeGreaterThan(100);
    expect(after.filter(([, read]) => read !== name)).toEqual([]);
  }
}

// `min-replicas-to-write` (advised for Sentinel primaries) with its replica gone, or a failed RDB
// save (`MISCONF`): Redis answers reads and PINGs, and refuses every write. The writer's
// invalidation is refused, so it resolves after redisDownWriteWait with it queued; the readers'
// leases hold all along (their PINGs are answered), their L1 and Redis's entries keep the old row.
describe("a Redis that refuses writes (NOREPLICAS) for longer than a registration lives, then takes them again", () => {
  it("no reader returns the old row after the write resolved, during the refusal or after it, nor one started during it; L1 serves again", async () => {
    await withRefusingRedis(17_000, async ({ cached, user, startReader, refuse }, readers) => {
      // Longer than the write's own wait (redisDownWriteWait + lease): the readers' registrations lapse meanwhile.
      const takeWritesAgain = await refuse(9_000);
      await cached.prisma.user.update({ where: { id: user.id }, data: { name: "written while Redis refused writes" } });
      const resolvedAt = machineNow();
      // An instance started now (a deploy during the refusal) was never registered: Redis still holds the old row.
      readers.push(startReader(7_000));
      await takeWritesAgain();
      expectNoneOlder(await Promise.all(readers.map((reader) => reader.result)), resolvedAt, "written while Redis refused writes");
      expect(cached.prisma.$cache.stats().undeliveredWrites, "the write resolved with its invalidation refused").toBe(1);
      // Delivered once Redis took writes again: close() has nothing left to deliver.
      await expect(cached.prisma.$cache.close()).resolves.toBeUndefined();
    });
  }, 90_000);

  it("$cache.invalidate() after a write made elsewhere: it resolves only once no reader can serve the old row (an outside probe: 316 stale reads after it resolved)", async () => {
    await withRefusingRedis(13_000, async ({ cached, user, refuse }, readers) => {
      const takeWritesAgain = await refuse(8_000);
      // Another service's write, then the invalidation it owes the cache.
      await cached.base.user.update({ where: { id: user.id }, data: { name: "written elsewhere while Redis refused writes" } });
      await cached.prisma.$cache.invalidate({ model: "User" });
      const resolvedAt = machineNow();
      await takeWritesAgain();
      expectNoneOlder(await Promise.all(readers.map((reader) => reader.result)), resolvedAt, "written elsewhere while Redis refused writes");
      expect(cached.prisma.$cache.stats().undeliveredWrites, "it resolved with its invalidation still refused, counted").toBe(1);
    });
  }, 90_000);
});
