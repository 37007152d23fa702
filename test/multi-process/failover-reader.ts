// A reader instance of failover.test.ts: its own PrismaClient, pool, L1 (or none: L1=off) and
// Redis connection (through the test's proxy, which a failover points at the promoted replica).
// Reads every user of USER_IDS by id, and all of them as one list, in sweeps; prints "warm" once
// both kinds of read were served from the cache, then reads until DURATION_MS has passed and
// prints when each read that returned OLD_NAME started (the machine's monotonic clock, ms), so the test can judge
// every read against the moment its writes resolved.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";
import { requiredEnv } from "../helpers/worker-env.ts";
import { machineNow } from "../helpers/machine-clock.ts";

export interface FailoverReaderReport {
  reads: number;
  /** Start times of the reads (by id or in the list) that returned OLD_NAME. */
  oldAt: number[];
  /** Reads that started in each second of the run (second of the machine's monotonic clock → count): proves reads went on after the failover. */
  perSecond: Record<string, number>;
  failures: string[];
  /** Cache hits (L1 + L2) counted so far, at the last sweep of each second: hits after the failover show the cache came back. */
  hitsBySecond: Record<string, number>;
  redisServerChanges: number;
  l1Hits: number;
  l2Hits: number;
}

const env = requiredEnv("failover-reader");
const now = machineNow;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 2 });
const redis = new Redis(env("REDIS_URL"), { maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const prisma = base.$extends(cacheExtension({ redis, namespace: env("NAMESPACE"), models: { User: { ttl: 300 } }, l1: env("L1") === "off" ? false : undefined, onError: () => {} }));
const ids = env("USER_IDS").split(",").map(Number);
const oldName = env("OLD_NAME");
const report: FailoverReaderReport = { reads: 0, oldAt: [], perSecond: {}, failures: [], hitsBySecond: {}, redisServerChanges: 0, l1Hits: 0, l2Hits: 0 };

async function sweep(): Promise<void> {
  for (const id of ids) {
    const at = now();
    try {
      const user = await prisma.user.findUnique({ where: { id } });
      note(at, user?.name === oldName);
    } catch (error) {
      report.failures.push(String(error));
    }
  }
  const at = now();
  try {
    const users = await prisma.user.findMany({ where: { id: { in: ids } }, orderBy: { id: "asc" } });
    note(at, users.some((user) => user.name === oldName));
  } catch (error) {
    report.failures.push(String(error));
  }
  report.hitsBySecond[String(Math.floor(now() / 1000))] = prisma.$cache.stats().hits;
}

function note(startedAt: number, old: boolean): void {
  report.reads++;
  const second = String(Math.floor(startedAt / 1000));
  report.perSecond[second] = (report.perSecond[second] ?? 0) + 1;
  if (old) report.oldAt.push(Math.round(startedAt));
}

// Warm up: every read served from the cache (L1 or Redis) at least once.
const warmUntil = now() + 20_000;
while (prisma.$cache.stats().hits < (ids.length + 1) * 2 && now() < warmUntil) {
  await sweep();
  await sleep(5);
}
process.stdout.write("warm\n");

const end = now() + Number(env("DURATION_MS"));
while (now() < end) {
  await sweep();
  await sleep(5);
}
const stats = prisma.$cache.stats();
report.l1Hits = stats.l1Hits;
report.redisServerChanges = stats.redisServerChanges;
report.l2Hits = stats.l2Hits;
await prisma.$cache.close().catch(() => {});
await base.$disconnect();
await pool.end();
redis.disconnect();
console.log(JSON.stringify(report));
