// One app instance of bounded-waits.test.ts: READERS concurrent loops of findUnique on a zipf
// key set (users by id, and each user's post count) and WRITERS loops of updates, for
// DURATION_MS after every instance reached a barrier. Each loop yields to the event loop
// between operations, as request handlers do. Prints how long reads took and the lock counters.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";
import { seededRandom } from "../helpers/random.ts";
import { requiredEnv } from "../helpers/worker-env.ts";

export interface LoadReport {
  reads: number;
  writes: number;
  readErrors: number;
  errorSamples: string[];
  maxReadMs: number;
  readsOver1s: number;
  readsOverLockTtl: number;
  lockWaits: number;
  lockWaitTimeouts: number;
  lockWaitMs: number;
  l1Hits: number;
  l2Hits: number;
  dbLoads: number;
  fencedStores: number;
  redisTimeouts: number;
  /** Per second of the run: reads finished and the longest of them (ms). */
  perSecond: Array<[reads: number, maxMs: number]>;
}

const env = requiredEnv("load-worker");
const LOCK_TTL = Number(env("LOCK_TTL"));
const WARM_UP_MS = 1_500;
const USERS = JSON.parse(env("USERS")) as number[];
const random = seededRandom(Number(env("SEED")));
const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 8 });
const redis = new Redis(env("REDIS_URL"), { maxRetriesPerRequest: 1 });
redis.on("error", () => {});
const base = new PrismaClient({ adapter: new PrismaPg(pool) });

/** Zipf (s = 1.1) over the users: a few hot ones, a long tail. */
const cumulative: number[] = [];
let total = 0;
for (let i = 0; i < USERS.length; i++) cumulative.push((total += 1 / (i + 1) ** 1.1));
function pickUser(): number {
  const target = random() * total;
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (cumulative[mid]! < target) low = mid + 1;
    else high = mid;
  }
  return USERS[low]!;
}

/** A client of the shared Redis under `namespace`, as an app instance builds it. */
const extendedClient = (namespace: string) => base.$extends(cacheExtension({ redis, namespace, lockTtl: LOCK_TTL, models: { User: true, Post: true } }));
type Client = ReturnType<typeof extendedClient>;
const prisma = extendedClient(env("NAMESPACE"));

await base.$connect();
await redis.ping();
// Warm up with the run's own loops for WARM_UP_MS, on a namespace of its own: the run still starts
// with a cold cache, but not with cold code (Prisma compiles each query shape on first use,
// blocking the event loop for tens of milliseconds, and the read, write and wait paths run
// unoptimized at first), which would count as slow reads and slow lock holders.
const warmUp = extendedClient(`${env("NAMESPACE")}.warm-up`);
await runLoops(warmUp, performance.now() + WARM_UP_MS, emptyReport());
await warmUp.$cache.close();
const barrier = `${env("NAMESPACE")}:barrier`;
await redis.incr(barrier);
while (Number(await redis.get(barrier)) < Number(env("INSTANCES"))) await new Promise((resolve) => setTimeout(resolve, 5));
process.stdout.write("started\n");

const report = emptyReport();
await runLoops(prisma, performance.now() + Number(env("DURATION_MS")), report);
const stats = prisma.$cache.stats();
Object.assign(report, {
  lockWaits: stats.lockWaits,
  lockWaitTimeouts: stats.lockWaitTimeouts,
  lockWaitMs: Math.round(stats.lockWaitMs),
  l1Hits: stats.l1Hits,
  l2Hits: stats.l2Hits,
  dbLoads: stats.dbLoads,
  fencedStores: stats.fencedStores,
  redisTimeouts: stats.redisTimeouts,
});
report.maxReadMs = Math.round(report.maxReadMs);
await prisma.$cache.close();
await base.$disconnect();
await pool.end();
redis.disconnect();
console.log(JSON.stringify(report));

function emptyReport(): LoadReport {
  return { reads: 0, writes: 0, readErrors: 0, errorSamples: [], maxReadMs: 0, readsOver1s: 0, readsOverLockTtl: 0, lockWaits: 0, lockWaitTimeouts: 0, lockWaitMs: 0, l1Hits: 0, l2Hits: 0, dbLoads: 0, fencedStores: 0, redisTimeouts: 0, perSecond: [] };
}

/** READERS reader loops and WRITERS writer loops through `client` until `end`, counted in `report`. */
async function runLoops(client: Client, end: number, report: LoadReport): Promise<void> {
  const begin = performance.now();
  async function reader(): Promise<void> {
    while (performance.now() < end) {
      const id = pickUser();
      const started = performance.now();
      try {
        if (random() < 0.8) await client.user.findUnique({ where: { id } });
        else await client.post.count({ where: { authorId: id } });
      } catch (error) {
        report.readErrors++;
        if (report.errorSamples.length < 3) report.errorSamples.push(String(error));
      }
      const took = performance.now() - started;
      report.reads++;
      const second = (report.perSecond[Math.floor((started - begin) / 1000)] ??= [0, 0]);
      second[0]++;
      second[1] = Math.max(second[1], Math.round(took));
      report.maxReadMs = Math.max(report.maxReadMs, took);
      if (took >= 1_000) report.readsOver1s++;
      if (took >= LOCK_TTL) report.readsOverLockTtl++;
      await yieldToLoop();
    }
  }
  async function writer(): Promise<void> {
    while (performance.now() < end) {
      const id = pickUser();
      await client.user.update({ where: { id }, data: { name: `n${Math.floor(random() * 1e6)}` } }).catch(() => {});
      report.writes++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  await Promise.all([...Array.from({ length: Number(env("READERS")) }, reader), ...Array.from({ length: Number(env("WRITERS")) }, writer)]);
}
