// One app instance of bench/herd.ts: its own process, pg pool, PrismaClient and (per round) cache
// extension. It lives for the whole benchmark and runs the rounds the parent sends over IPC:
// for each, it builds the round's client, counts itself in at a Redis barrier (INCR, then poll
// until every instance has), fires READS concurrent findFirst reads of one cold key against a
// database slowed by DELAY_MS per statement, and reports every read's latency from the moment it
// saw the barrier open, with its query count and cache counters.
//
// Started by bench/herd.ts as `node --expose-gc --import tsx bench/herd-worker.ts` (gc() runs before
// each barrier, so one round's garbage is not collected in the next); not meant to run alone.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { PrismaClient } from "../prisma/generated/client.ts";
import { parseEventMessage } from "../src/invalidation/wire-format.ts";
import { cacheExtension } from "../src/index.ts";
import { CountingPool } from "../test/helpers/counting-pool.ts";
import type { HerdCommand, HerdConfig, HerdReport, WorkerMessage } from "./lib/herd-protocol.ts";

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`herd-worker: ${name} is not set`);
  return value;
};
const WORKER = Number(env("HERD_WORKER"));
const INSTANCES = Number(env("HERD_INSTANCES"));
const READS = Number(env("HERD_READS"));
const DELAY_MS = Number(env("HERD_DELAY_MS"));
const LOCK_TTL_MS = Number(env("HERD_LOCK_TTL_MS"));
/** How often a worker waiting at the barrier polls it. */
const BARRIER_POLL_MS = 1;

if (process.send === undefined) throw new Error("herd-worker: start it from bench/herd.ts (it needs an IPC channel)");
const send = (message: WorkerMessage) => process.send!(message);
// The parent went away: nobody will read the reports.
const orphaned = () => process.exit(1);
process.on("disconnect", orphaned);

const pool = new CountingPool({ connectionString: env("HERD_DATABASE_URL"), max: Number(env("HERD_POOL_MAX")) });
pool.delayMs = DELAY_MS;
const redis = new Redis(env("HERD_REDIS_URL"), { maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
/** The longest the event loop was blocked during a herd (the histogram's resolution: 1 ms). */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
/**
 * The loader's "landed" wake-ups, timed on arrival: a pattern subscription of the benchmark's own
 * (PUBSUB NUMSUB, which the barrier counts, ignores pattern subscribers).
 */
const listener = new Redis(env("HERD_REDIS_URL"), { maxRetriesPerRequest: 1 });
const landed = new Map<string, number>();
listener.on("pmessage", (_pattern: string, channel: string, message: string) => {
  const parsed = parseEventMessage(message);
  if (parsed.kind === "landed" && parsed.landed && !landed.has(channel)) landed.set(channel, performance.timeOrigin + performance.now());
});
/** global.gc, present when the parent starts the worker with --expose-gc. */
const collectGarbage = (globalThis as { gc?: () => void }).gc;

function cachedClient(config: Exclude<HerdConfig, "none">, namespace: string) {
  // "local": no `redis`, so each process coalesces its own misses and nothing is shared.
  return base.$extends(cacheExtension({ ...(config === "fleet" ? { redis } : {}), namespace, lockTtl: LOCK_TTL_MS, models: { Post: true } }));
}

const postArgs = (authorId: number) => ({ where: { authorId }, orderBy: { id: "asc" as const } });

/**
 * INCR, then poll until all INSTANCES have counted in. In the fleet configuration it also waits
 * until every instance's invalidation/wake-up subscription is live (PUBSUB NUMSUB of the
 * namespace's events channel), since that connection is set-up too. Returns performance.now()
 * at release.
 */
async function barrier(namespace: string, config: HerdConfig): Promise<number> {
  const key = `${namespace}:barrier`;
  const channel = `{${namespace}}:events`;
  let arrived = await redis.incr(key);
  for (;;) {
    if (arrived >= INSTANCES) {
      if (config !== "fleet") return performance.now();
      const [, subscribers] = (await redis.pubsub("NUMSUB", channel)) as [string, number];
      if (Number(subscribers) >= INSTANCES) return performance.now();
    }
    await new Promise((resolve) => setTimeout(resolve, BARRIER_POLL_MS));
    if (arrived < INSTANCES) arrived = Number(await redis.get(key));
  }
}

async function round(command: Extract<HerdCommand, { type: "round" }>): Promise<HerdReport> {
  const { config, namespace, authorId, expectedPostId } = command;
  const cached = config === "none" ? undefined : cachedClient(config, namespace);
  const read = cached === undefined ? () => base.post.findFirst(postArgs(authorId)) : () => cached.post.findFirst(postArgs(authorId));
  try {
    pool.queries = 0;
    // The previous round's garbage is collected now, not in the middle of this herd.
    collectGarbage?.();
    // Enabled before the barrier: the monitor records nothing for its first interval.
    loopDelay.enable();
    const released = await barrier(namespace, config);
    const releasedAt = performance.timeOrigin + released;
    loopDelay.reset();
    const latencies = new Array<number>(READS).fill(NaN);
    let correct = 0;
    const reads = Array.from({ length: READS }, (_, i) =>
      read().then((post) => {
        latencies[i] = performance.now() - released;
        if (post?.id === expectedPostId) correct++;
      }),
    );
    // Every read has started (and, through the cache, sent its first Redis commands) by now.
    const issueMs = performance.now() - released;
    await Promise.all(reads);
    loopDelay.disable();
    const queries = pool.queries;
    // The loader publishes the wake-up after its own reads have their answer: give it a moment.
    const channel = `{${namespace}}:events`;
    for (let i = 0; config === "fleet" && !landed.has(channel) && i < 200; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const stats = cached?.$cache.stats();
    return {
      worker: WORKER,
      round: command.round,
      config,
      queries,
      correct,
      latencies,
      releasedAt,
      landedAt: landed.get(channel) ?? null,
      issueMs,
      loopDelayMaxMs: loopDelay.max / 1e6,
      dbLoads: stats?.dbLoads ?? 0,
      coalesced: stats?.coalesced ?? 0,
      lockAcquisitions: stats?.lockAcquisitions ?? 0,
      lockWaits: stats?.lockWaits ?? 0,
      lockWaitMs: stats?.lockWaitMs ?? 0,
      l2Hits: stats?.l2Hits ?? 0,
      redisErrors: stats?.redisErrors ?? 0,
      redisTimeouts: stats?.redisTimeouts ?? 0,
      bypasses: stats?.bypasses ?? {},
    };
  } finally {
    await cached?.$cache.close();
  }
}

async function exit(): Promise<void> {
  await base.$disconnect();
  await pool.end().catch(() => {});
  await redis.quit().catch(() => redis.disconnect());
  await listener.quit().catch(() => listener.disconnect());
  process.off("disconnect", orphaned);
  process.disconnect();
}

let queue: Promise<void> = Promise.resolve();
process.on("message", (message: HerdCommand) => {
  queue = queue.then(async () => {
    try {
      if (message.type === "round") send({ type: "report", report: await round(message) });
      else await exit();
    } catch (error) {
      send({ type: "error", worker: WORKER, message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
});

try {
  const started = performance.now();
  // Connect before anything is measured: connection set-up is not part of the herd.
  await base.$connect();
  await redis.ping();
  await listener.psubscribe(`{${env("HERD_PREFIX")}-r*}:events`);
  send({ type: "ready", worker: WORKER, startupMs: performance.now() - started });
} catch (error) {
  send({ type: "error", worker: WORKER, message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
