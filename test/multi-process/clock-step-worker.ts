// One instance of the clock-step test. ROLE=holder: takes the fleet lock of a cold key and loads it
// for HOLD_MS (a slow database). ROLE=waiter: reads the same key while the holder loads, and
// 300 ms into its read this process's wall clock steps back STEP_MS (NTP correcting a clock).
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";

const env = (name: string) => process.env[name] ?? "";
const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 4 });
const redis = new Redis(env("REDIS_URL"));
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const prisma = base.$extends(cacheExtension({ redis, namespace: env("NAMESPACE"), models: { Post: true } }));
const args = { where: { authorId: Number(env("AUTHOR_ID")) }, orderBy: { id: "asc" as const } };

// Warm up: connections, the server check, the lease.
for (let i = 0; i < 5; i++) await prisma.post.findUnique({ where: { id: -1 } });
await new Promise((resolve) => setTimeout(resolve, 300));
const started = performance.now();
if (env("ROLE") === "holder") {
  pool.delayMs = Number(env("HOLD_MS"));
  const read = prisma.post.findFirst(args);
  console.log("loading");
  await read;
} else {
  const realNow = Date.now;
  setTimeout(() => (Date.now = () => realNow() - Number(env("STEP_MS"))), 300);
  await prisma.post.findFirst(args);
}
const readMs = performance.now() - started;
const stats = prisma.$cache.stats();
await prisma.$cache.close();
await base.$disconnect();
// The pool is ours, not the adapter's: $disconnect() leaves it open, and its idle connections would keep
// this process alive for pg's idleTimeoutMillis (10 s) after its result is printed.
await pool.end();
redis.disconnect();
console.log(JSON.stringify({ readMs, lockWaits: stats.lockWaits, lockWaitTimeouts: stats.lockWaitTimeouts, dbLoads: stats.dbLoads }));
