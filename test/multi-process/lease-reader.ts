// A reader instance of lease.test.ts: its own PrismaClient, pool, L1 and subscription. It reads
// one user in a loop of `await findUnique` that never yields to I/O while L1 answers (every await
// settles in the microtask queue): the event loop neither delivers invalidations nor runs timers
// until L1 stops answering. Prints "ready" once L1 serves the row, then reads until DURATION_MS
// has passed and prints what it saw, judged by when each read started (the machine's monotonic clock, ms).
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";
import { requiredEnv } from "../helpers/worker-env.ts";
import { machineNow } from "../helpers/machine-clock.ts";

export interface LeaseReaderReport {
  reads: number;
  /** Start time of the last read that returned the old name (0 if none after ready). */
  lastOldAt: number;
  /** Start time of the first read that returned another name (0 if none). */
  firstNewAt: number;
  l1Hits: number;
  l2Hits: number;
}

const env = requiredEnv("lease-reader");
const now = machineNow;

const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 2 });
// A name lets a test find this process's connections in CLIENT LIST (duplicate() copies it to the subscriber).
const redis = new Redis(env("REDIS_URL"), { maxRetriesPerRequest: 1, connectionName: process.env.CONNECTION_NAME || undefined });
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const prisma = base.$extends(cacheExtension({ redis, namespace: env("NAMESPACE"), models: { User: true }, lease: { ttl: Number(env("LEASE_TTL")) } }));
const id = Number(env("USER_ID"));
const oldName = env("OLD_NAME");

// Warm up until L1 answers (the lease is held once the first heartbeat is answered).
while (prisma.$cache.stats().l1Hits < 10) {
  await prisma.user.findUnique({ where: { id } });
  await new Promise((resolve) => setTimeout(resolve, 5));
}
process.stdout.write("ready\n");

const report: LeaseReaderReport = { reads: 0, lastOldAt: 0, firstNewAt: 0, l1Hits: 0, l2Hits: 0 };
const end = now() + Number(env("DURATION_MS"));
for (let at = now(); at < end; at = now()) {
  const user = await prisma.user.findUnique({ where: { id } });
  report.reads++;
  if (user?.name === oldName) report.lastOldAt = at;
  else if (report.firstNewAt === 0) report.firstNewAt = at;
}
const stats = prisma.$cache.stats();
report.l1Hits = stats.l1Hits;
report.l2Hits = stats.l2Hits;
await prisma.$cache.close();
await base.$disconnect();
await pool.end();
redis.disconnect();
console.log(JSON.stringify(report));
