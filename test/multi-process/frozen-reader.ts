// An instance of the example schema for schema-change.test.ts: its own PrismaClient, pool, L1
// and subscription. Reads one user by email until L1 serves it, prints "ready", then keeps
// reading (20 ms apart) until DURATION_MS has passed, and prints when it last saw the old name
// and first saw another, judged by when each read started (the machine's monotonic clock, ms). The test freezes it
// (SIGSTOP) in between.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";
import { requiredEnv } from "../helpers/worker-env.ts";
import { machineNow } from "../helpers/machine-clock.ts";

export interface FrozenReaderReport {
  reads: number;
  /** Start time of the last read that returned the old name (0 if none after ready). */
  lastOldAt: number;
  /** Start time of the first read that returned another name (0 if none). */
  firstNewAt: number;
  bypasses: Record<string, number>;
}

const env = requiredEnv("frozen-reader");
const now = machineNow;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 2 });
const redis = new Redis(env("REDIS_URL"), { maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const prisma = base.$extends(cacheExtension({ redis, namespace: env("NAMESPACE"), models: { User: true }, l1: process.env.L1 === "0" ? false : undefined }));
const email = env("USER_EMAIL");
const oldName = env("OLD_NAME");
const served = () => (process.env.L1 === "0" ? prisma.$cache.stats().l2Hits : prisma.$cache.stats().l1Hits);

while (served() < 5) {
  await prisma.user.findUnique({ where: { email } });
  await sleep(5);
}
process.stdout.write("ready\n");

const report: FrozenReaderReport = { reads: 0, lastOldAt: 0, firstNewAt: 0, bypasses: {} };
const end = now() + Number(env("DURATION_MS"));
for (let at = now(); at < end; at = now()) {
  const user = await prisma.user.findUnique({ where: { email } });
  report.reads++;
  if (user?.name === oldName) report.lastOldAt = at;
  else if (report.firstNewAt === 0) report.firstNewAt = at;
  await sleep(20);
}
report.bypasses = prisma.$cache.stats().bypasses;
await prisma.$cache.close();
await base.$disconnect();
await pool.end();
redis.disconnect();
console.log(JSON.stringify(report));
