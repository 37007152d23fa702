// One app instance of the chaos run (bench/chaos.ts): its own PrismaClient, pool, L1 and Redis
// connections to the private (faulty) redis-server. LOOPS concurrent loops read (90 %
// findUnique) and write (10 % update, version + 1) zipf-chosen users until told to stop.
//
// The version oracle lives on another Redis (REDIS_URL, never the faulty one): after a write
// resolves, the worker raises `<ORACLE>:u:<id>` to the version it committed (max only). Before a
// read it fetches that minimum; a read that returns a lower version is stale: it returned data
// older than a write that had resolved before it started. Each request is counted in the phase
// it started in (the orchestrator announces phases over IPC). CIRCUIT_BREAKER=off disables the breaker.
import { AsyncLocalStorage } from "node:async_hooks";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../prisma/generated/client.ts";
import { cacheExtension } from "../src/index.ts";
import { seededRandom } from "../test/helpers/random.ts";

export interface PhaseCounts {
  requests: number;
  /** Cache hits (L1 + L2) of this process during the phase, and its reads: the hit rate. */
  hits: number;
  reads: number;
  writes: number;
  failures: number;
  stale: number;
  /** Reads that took over 1 s, and writes (a write waits up to redisDownWriteWait for an outage to end). */
  over1s: number;
  writesOver1s: number;
  /** Milliseconds from the phase's start to this process's first cache hit in it (null: none). */
  firstHitMs: number | null;
  /** Request latencies in ms (0.1 ms resolution), for percentiles. */
  latencies: number[];
  failureSamples: string[];
  staleSamples: string[];
}

export type ChaosWorkerMessage = { type: "ready" } | { type: "report"; phases: Record<string, PhaseCounts>; stats: unknown };
export type ChaosCommand = { type: "phase"; name: string } | { type: "stop" };

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const ORACLE = env("ORACLE_PREFIX");
const USERS = JSON.parse(env("USER_IDS")) as number[];
const LOOPS = Number(process.env.LOOPS ?? 8);
const random = seededRandom(Number(env("SEED")));

const redis = new Redis(env("CHAOS_REDIS_URL"), { maxRetriesPerRequest: 1 });
redis.on("error", () => {});
const oracle = new Redis(env("REDIS_URL"), { maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: env("DATABASE_URL"), max: 10 }) });
// CIRCUIT_BREAKER=off runs without the circuit breaker (to compare the timeouts paid).
const prisma = base.$extends(cacheExtension({ redis, namespace: env("NAMESPACE"), models: { User: { ttl: 60 } }, ...(process.env.CIRCUIT_BREAKER === "off" ? { circuitBreaker: false as const } : {}) }));
/** The last distinct errors the cache absorbed, by message (for the report). */
const absorbed = new Map<string, number>();
prisma.$cache.events.on("error", ({ error }) => {
  const key = `${phase}: ${error.message.replace(/\d+/g, "N").slice(0, 160)}`;
  absorbed.set(key, (absorbed.get(key) ?? 0) + 1);
});

/** Zipf (s = 1) over the users: rank r is chosen with probability ∝ 1/r. */
const cdf = (() => {
  const weights = USERS.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  let sum = 0;
  return weights.map((w) => (sum += w / total));
})();
function zipfUser(): number {
  const u = random();
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return USERS[lo]!;
}

const RAISE = `local v = tonumber(redis.call('GET', KEYS[1]) or '0') if tonumber(ARGV[1]) > v then redis.call('SET', KEYS[1], ARGV[1]) end return 1`;

let phase = "start";
/** Which tier answered the read running in this async context: a stale sample says where it came from. */
const servedBy = new AsyncLocalStorage<{ tier: string }>();
prisma.$cache.events.on("hit", ({ tier }) => {
  const read = servedBy.getStore();
  if (read !== undefined) read.tier = tier;
});
const phases: Record<string, PhaseCounts> = {};
const counts = (name: string) => (phases[name] ??= { requests: 0, hits: 0, reads: 0, writes: 0, failures: 0, stale: 0, over1s: 0, writesOver1s: 0, firstHitMs: null, latencies: [], failureSamples: [], staleSamples: [] });
let running = true;

async function loop(): Promise<void> {
  while (running) {
    const id = zipfUser();
    const started = phase;
    const c = counts(started);
    const write = random() < 0.1;
    const min = write ? 0 : Number((await oracle.get(`${ORACLE}:u:${id}`)) ?? 0);
    const t0 = performance.now();
    try {
      if (write) {
        const row = await prisma.user.update({ where: { id }, data: { version: { increment: 1 } } });
        await oracle.eval(RAISE, 1, `${ORACLE}:u:${id}`, row.version);
        c.writes++;
      } else {
        const served = { tier: "database" };
        const row = await servedBy.run(served, async () => await prisma.user.findUnique({ where: { id }, select: { id: true, version: true } }));
        c.reads++;
        if (row === null || row.version < min) {
          c.stale++;
          if (c.staleSamples.length < 5) c.staleSamples.push(`user ${id}: got version ${row?.version} from ${served.tier}, a resolved write made ${min} (process ${process.pid}, hot keys: ${prisma.$cache.stats().hotKeys.length})`);
        }
      }
    } catch (error) {
      c.failures++;
      if (c.failureSamples.length < 5) c.failureSamples.push(String((error as Error)?.message ?? error).slice(0, 200));
    }
    const ms = performance.now() - t0;
    c.requests++;
    if (ms > 1_000 && write) c.writesOver1s++;
    else if (ms > 1_000) c.over1s++;
    c.latencies.push(Math.round(ms * 10) / 10);
  }
}

let hitsAtPhaseStart = 0;
let phaseStartedAt = Date.now();
prisma.$cache.events.on("hit", () => {
  const c = counts(phase);
  if (c.firstHitMs === null) c.firstHitMs = Date.now() - phaseStartedAt;
});
const closePhase = () => {
  const hits = prisma.$cache.stats().hits;
  counts(phase).hits += hits - hitsAtPhaseStart;
  hitsAtPhaseStart = hits;
};
process.on("message", (command: ChaosCommand) => {
  closePhase();
  if (command.type === "phase") {
    phase = command.name;
    phaseStartedAt = Date.now();
  }
  else running = false;
});

const loops = Array.from({ length: LOOPS }, () => loop());
process.send!({ type: "ready" } satisfies ChaosWorkerMessage);
await Promise.all(loops);
const stats = { ...prisma.$cache.stats(), absorbed: Object.fromEntries(absorbed) };
process.send!({ type: "report", phases, stats } satisfies ChaosWorkerMessage);
await Promise.race([prisma.$cache.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 3_000))]);
await base.$disconnect();
redis.disconnect();
oracle.disconnect();
process.exit(0);
