// One app instance of bench/hot-key.ts: its own process, pg pool, PrismaClient and L1. For each
// phase the parent starts ("go"), it reads that phase's number of users (HOT_PHASES, comma-
// separated) one at a time, drawn from a zipf(HOT_ZIPF_S) distribution over HOT_KEYS ids (rank r
// is user id r: id 1 is the hottest), through the cache extension on a model with `l1: false`,
// with or without hot-key handling, and reports every read's latency, the reads of the top key,
// its statement count and its cache counters. The client (and its L1, detector) lives across
// phases; after the last one the worker closes everything and exits.
//
// Started by bench/hot-key.ts as `node --import tsx bench/hot-key-worker.ts`; not meant to run alone.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../prisma/generated/client.ts";
import { cacheExtension } from "../src/index.ts";
import { CountingPool } from "../test/helpers/counting-pool.ts";
import { seededRandom } from "../test/helpers/random.ts";
import { zipfSampler } from "./lib/zipf.ts";

export type HotConfig = "off" | "on";

/** Parent → worker: run the next phase. */
export type HotCommand = { type: "go"; phase: number };

export interface HotReport {
  worker: number;
  config: HotConfig;
  phase: number;
  reads: number;
  /** Microseconds per read, in order. */
  latencies: number[];
  /** Microseconds per read of the top key (id 1), in order. */
  topLatencies: number[];
  /** Reads that did not return the user asked for (must be 0). */
  wrong: number;
  /** Statements this process sent to PostgreSQL during the reads. */
  queries: number;
  durationMs: number;
  l1Hits: number;
  l2Hits: number;
  misses: number;
  dbLoads: number;
  lockAcquisitions: number;
  lockWaits: number;
  replicaReads: number;
  redisErrors: number;
  redisTimeouts: number;
  bypasses: Record<string, number>;
  /** The detector's hottest keys at the end ($cache.stats().hotKeys, at most 10). */
  hotKeys: Array<{ key: string; estimate: number }>;
}

/** Worker → parent. */
export type HotMessage = { type: "ready" } | { type: "report"; report: HotReport } | { type: "error"; message: string };

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`hot-key-worker: ${name} is not set`);
  return value;
};

if (process.send === undefined) throw new Error("hot-key-worker: start it from bench/hot-key.ts (it needs an IPC channel)");
const send = (message: HotMessage) => process.send!(message);
// The parent went away: nobody will read the report.
const orphaned = () => process.exit(1);
process.on("disconnect", orphaned);

const WORKER = Number(env("HOT_WORKER"));
const CONFIG = env("HOT_CONFIG") as HotConfig;
const PHASES = env("HOT_PHASES").split(",").map(Number);
const KEYS = Number(env("HOT_KEYS"));
const ZIPF_S = Number(env("HOT_ZIPF_S"));

const pool = new CountingPool({ connectionString: env("HOT_DATABASE_URL"), max: 4 });
const redis = new Redis(env("HOT_REDIS_URL"), { maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const prisma = base.$extends(
  cacheExtension({
    redis,
    namespace: env("HOT_NAMESPACE"),
    models: { User: { l1: false } },
    l1: { maxTtl: Number(env("HOT_L1_MAX_TTL")) },
    hotKeys: CONFIG === "off" ? false : { threshold: Number(env("HOT_THRESHOLD")), window: Number(env("HOT_WINDOW")), replicas: Number(env("HOT_REPLICAS")) },
  }),
);



// Ranks 1..KEYS (the sampler draws 0-based ranks), rank r the id r.
const zipfRank = zipfSampler(KEYS, ZIPF_S, seededRandom(Number(env("HOT_SEED"))));
const draw = () => zipfRank() + 1;

async function run(phase: number): Promise<HotReport> {
  const READS = PHASES[phase]!;
  const ids = Array.from({ length: READS }, draw);
  const latencies = new Array<number>(READS);
  const topLatencies: number[] = [];
  let wrong = 0;
  pool.queries = 0;
  const before = prisma.$cache.stats();
  const started = performance.now();
  for (let i = 0; i < READS; i++) {
    const id = ids[i]!;
    const t0 = process.hrtime.bigint();
    const user = await prisma.user.findUnique({ where: { id } });
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    latencies[i] = us;
    if (id === 1) topLatencies.push(us);
    if (user?.id !== id) wrong++;
  }
  const durationMs = performance.now() - started;
  const queries = pool.queries;
  const stats = prisma.$cache.stats();
  return {
    worker: WORKER,
    config: CONFIG,
    phase,
    reads: READS,
    latencies,
    topLatencies,
    wrong,
    queries,
    durationMs,
    l1Hits: stats.l1Hits - before.l1Hits,
    l2Hits: stats.l2Hits - before.l2Hits,
    misses: stats.misses - before.misses,
    dbLoads: stats.dbLoads - before.dbLoads,
    lockAcquisitions: stats.lockAcquisitions - before.lockAcquisitions,
    lockWaits: stats.lockWaits - before.lockWaits,
    replicaReads: stats.replicaReads - before.replicaReads,
    redisErrors: stats.redisErrors - before.redisErrors,
    redisTimeouts: stats.redisTimeouts - before.redisTimeouts,
    bypasses: Object.fromEntries(Object.entries(stats.bypasses).map(([reason, n]) => [reason, n - (before.bypasses[reason] ?? 0)]).filter(([, n]) => n !== 0)),
    hotKeys: stats.hotKeys,
  };
}

async function shutdown(): Promise<void> {
  await prisma.$cache.close();
  await base.$disconnect();
  await pool.end().catch(() => {});
  await redis.quit().catch(() => redis.disconnect());
}

process.on("message", (message: HotCommand) => {
  if (message.type !== "go") return;
  const last = message.phase === PHASES.length - 1;
  void (async () => {
    try {
      send({ type: "report", report: await run(message.phase) });
    } catch (error) {
      send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      await finish();
    }
    if (last) await finish();
  })();
});

async function finish(): Promise<void> {
  await shutdown().catch(() => {});
  process.off("disconnect", orphaned);
  process.disconnect();
}

try {
  // Connect and instantiate Prisma's query compiler before anything is measured (not through the cache).
  await base.$connect();
  await base.user.findFirst({ select: { id: true } });
  await redis.ping();
  send({ type: "ready" });
} catch (error) {
  send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
