// One app instance of the second-schema oracle (second-oracle.test.ts, scripts/oracle-second.ts):
// its own PrismaClient, pool and extension (with L1, or Redis only when L1=off), sharing Redis and
// the database with the other workers. It runs rounds until the agreed end:
//   1. stress: LOOPS concurrent loops of random reads and writes (second-oracle/reads.ts, writes.ts)
//      through the cache for ROUND_MS, racing the other processes; each remembers its reads and
//      shares some with the others;
//   2. barrier: every process has finished its writes (each resolved once every instance acknowledged);
//   3. checkpoint: with no write anywhere, CHECKS reads — ones this process or another cached during
//      the stress, and fresh ones — run through the cache (twice: the second usually a hit) and
//      through plain Prisma: any difference is a stale or wrong cached read left by the races;
//   4. single write: those reads are now cached everywhere; one process (in turn) makes 1-2
//      random writes and every process checks the same reads again: a difference is a write
//      whose dependencies the cache missed (the stress alone rarely shows those: with dozens of
//      writes per second, some other write has usually invalidated the entry already);
//   5. barrier, and the first process to get there decides whether another round starts.
// Prints one JSON line (WorkerReport).
import { createHash } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../schemas/second/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";
import { seededRandom } from "../helpers/random.ts";
import { aroundDifference, canonical, runRead, type Outcome } from "./second-oracle/compare.ts";
import { agree, barrier, knownRows, neighbourhood } from "./second-oracle/fleet.ts";
import { pick, type Known, type Random } from "./second-oracle/model.ts";
import { randomRead, shapeOf, type ReadSpec } from "./second-oracle/reads.ts";
import { newPerson, pickWrite, type WriteClient } from "./second-oracle/writes.ts";
import { requiredEnv } from "../helpers/worker-env.ts";

export interface Difference {
  worker: number;
  round: number;
  /** Where the read came from: this process's stress reads, another process's, or a fresh one. */
  source: "own" | "shared" | "fresh" | "focused" | "after write";
  /** The writes of the single-write step before this check (with their arguments), if any. */
  writes?: string[];
  /** Which of the two cached reads differed (the second is usually served from the cache). */
  attempt: 1 | 2;
  shape: string;
  spec: ReadSpec;
  cached: string;
  plain: string;
}

export interface WorkerReport {
  worker: number;
  l1: boolean;
  rounds: number;
  reads: number;
  writes: number;
  checks: number;
  differences: number;
  samples: Difference[];
  readsByOp: Record<string, number>;
  writesByOp: Record<string, number>;
  /** Writes Prisma rejected (a row another process deleted, a unique clash): rolled back, by code. */
  writeErrors: Record<string, number>;
  /** Reads that failed other than with a Prisma error code (must be 0), with the first messages. */
  readErrors: number;
  errorSamples: string[];
  /** Hashes of the distinct read shapes this process issued (model, operation, argument keys). */
  shapes: string[];
  stats: Record<string, unknown>;
}

const env = requiredEnv("second-oracle-worker");

const WORKER = Number(env("WORKER"));
const WORKERS = Number(env("WORKERS"));
const PREFIX = env("ORACLE");
const SEED = Number(env("SEED"));
const END_AT = Number(env("END_AT"));
const ROUND_MS = Number(process.env.ROUND_MS ?? 1_500);
const CHECKS = Number(process.env.CHECKS ?? 30);
/** Single-write steps per round, each followed by a re-check of the reads the checkpoint cached. */
const SINGLE_WRITES = Number(process.env.SINGLE_WRITES ?? 3);
/** Reads around each single write's neighbourhood, cached before it and checked after it. */
const FOCUSED = Number(process.env.FOCUSED ?? 16);
const LOOPS = Number(process.env.LOOPS ?? 2);
/** Operations each loop runs per stress phase even past ROUND_MS (up to 5 × ROUND_MS): a loaded machine still tests something. */
const MIN_LOOP_OPS = Number(process.env.MIN_LOOP_OPS ?? 15);
const WRITE_RATIO = Number(process.env.WRITE_RATIO ?? 0.3);
const L1 = process.env.L1 !== "off";
const MAX_SAMPLES = 10;

const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 4 });
const redis = new Redis(env("REDIS_URL"), { maxRetriesPerRequest: 1 });
const coordination = new Redis(env("REDIS_URL"), { maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const models = { Person: { bloom: true }, Passport: true, Team: { bloom: true }, Player: true, Membership: true, Event: { bloom: true }, ActivePerson: { dependsOn: ["Person"] } };
// A long lease and ack timeout: a writer waits for acknowledgements no longer than the lease, and
// on a loaded 2-core machine (CI runs other test files beside these four processes) an instance
// can take more than the default 1 s to acknowledge. The test checks that every write was
// acknowledged, not resolved by the lease (that path has tests of its own).
const prisma = base.$extends(cacheExtension({ redis, namespace: env("NAMESPACE"), models, ackTimeout: 10_000, lease: { ttl: 10_000 }, ...(L1 ? {} : { l1: false }) }));
// WRITE_THROUGH=base sends the writes around the extension: nothing is invalidated, so the
// checkpoints must find differences (the negative control of second-oracle.test.ts).
const writer = (process.env.WRITE_THROUGH === "base" ? base : prisma) as unknown as WriteClient;

const report: WorkerReport = { worker: WORKER, l1: L1, rounds: 0, reads: 0, writes: 0, checks: 0, differences: 0, samples: [], readsByOp: {}, writesByOp: {}, writeErrors: {}, readErrors: 0, errorSamples: [], shapes: [], stats: {} };
const shapes = new Set<string>();
const bump = (counts: Record<string, number>, key: string) => void (counts[key] = (counts[key] ?? 0) + 1);
/** This round's stress reads (a bounded sample). */
let remembered: ReadSpec[] = [];

function noteError(what: string, spec: unknown, error: unknown): void {
  report.readErrors++;
  if (report.errorSamples.length < 5) report.errorSamples.push(`${what} ${JSON.stringify(spec)}: ${String((error as Error)?.stack ?? error).slice(0, 1500)}`);
}

function noteShape(spec: ReadSpec): void {
  shapes.add(createHash("sha1").update(shapeOf(spec)).digest("hex").slice(0, 16));
}

async function stressRead(random: Random, k: Known): Promise<void> {
  const spec = randomRead(random, k);
  noteShape(spec);
  bump(report.readsByOp, `${spec.model}.${spec.operation}`);
  report.reads++;
  try {
    await runRead(prisma, spec);
  } catch (error) {
    noteError("stress read", spec, error);
  }
  if (remembered.length < 300) remembered.push(spec);
  else remembered[Math.floor(random() * remembered.length)] = spec;
}

async function stressWrite(random: Random, k: Known, name: string, write: (p: WriteClient, r: Random, k: Known) => Promise<unknown>): Promise<void> {
  try {
    await write(writer, random, k);
    report.writes++;
    bump(report.writesByOp, name);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const key = typeof code === "string" ? code : String((error as Error)?.message ?? error).split("\n").find((line) => line.trim() !== "")?.slice(0, 100) ?? "unknown";
    bump(report.writeErrors, `${name}: ${key}`);
  }
}

async function stressLoop(random: Random, k: Known, until: number): Promise<void> {
  const hardStop = until + 4 * ROUND_MS;
  for (let ops = 0; Date.now() < until || (ops < MIN_LOOP_OPS && Date.now() < hardStop); ops++) {
    if (random() >= WRITE_RATIO) await stressRead(random, k);
    else await stressWrite(random, k, ...pickWrite(random));
  }
}

/**
 * Keeps the tables small, so that a single write touches many cached reads, and from emptying
 * (cascades can take many rows at once). Through the cache, like every write.
 */
async function keepSmall(random: Random, k: Known): Promise<void> {
  for (let i = k.people.length; i < 5; i++) await stressWrite(random, k, "person.create (top-up)", (p, r) => p.person.create({ data: newPerson(r, k) }));
  for (let i = k.teams.length; i < 2; i++) await stressWrite(random, k, "team.create (top-up)", (p) => p.team.create({ data: { name: `team top-up ${WORKER}-${Date.now()}-${i}`, players: { create: [{ name: "p top-up" }] } } }));
  const trim = async (name: string, excess: unknown[], run: (p: WriteClient) => Promise<unknown>) => excess.length > 0 && (await stressWrite(random, k, name, run));
  const people = k.people.slice(10).map((person) => person.id);
  await trim("person.deleteMany (trim)", people, (p) => p.person.deleteMany({ where: { id: { in: people } } }));
  const teams = k.teams.slice(4).map((team) => team.id);
  await trim("team.deleteMany (trim)", teams, (p) => p.team.deleteMany({ where: { id: { in: teams } } }));
  const players = k.players.slice(8).map((player) => player.id);
  await trim("player.deleteMany (trim)", players, (p) => p.player.deleteMany({ where: { id: { in: players } } }));
  const events = k.events.slice(6).map((event) => event.id);
  await trim("event.deleteMany (trim)", events, (p) => p.event.deleteMany({ where: { id: { in: events } } }));
}

async function check(spec: ReadSpec, source: Difference["source"], round: number, writes?: string[]): Promise<void> {
  report.checks++;
  noteShape(spec);
  let first: Outcome, plain: Outcome, second: Outcome | undefined;
  try {
    first = await runRead(prisma, spec);
    plain = await runRead(base, spec);
    // Right after a single write the first read is the one that matters; elsewhere read again (now a hit).
    second = source === "after write" ? undefined : await runRead(prisma, spec);
  } catch (error) {
    return noteError("checkpoint read", spec, error);
  }
  const expected = canonical(plain, spec);
  for (const [attempt, outcome] of [[1, first], [2, second]] as const) {
    if (outcome === undefined) continue;
    const got = canonical(outcome, spec);
    if (got === expected) continue;
    report.differences++;
    const [cached, plainAround] = aroundDifference(got, expected);
    if (report.samples.length < MAX_SAMPLES) report.samples.push({ worker: WORKER, round, source, attempt, shape: shapeOf(spec), spec, cached, plain: plainAround, ...(writes ? { writes } : {}) });
  }
}

/** Checks a sample of the fleet's cached reads; returns them (all cached now, in every tier this process has). */
async function checkpoint(random: Random, k: Known, round: number): Promise<ReadSpec[]> {
  const shared = (await coordination.lrange(`${PREFIX}:specs:${round}`, 0, -1)).map((json) => JSON.parse(json) as { worker: number; spec: ReadSpec }).filter((entry) => entry.worker !== WORKER);
  const checked: ReadSpec[] = [];
  for (let i = 0; i < CHECKS; i++) {
    const roll = random();
    const [spec, source]: [ReadSpec, Difference["source"]] = roll < 0.5 && remembered.length > 0 ? [pick(random, remembered), "own"] : roll < 0.8 && shared.length > 0 ? [pick(random, shared).spec, "shared"] : [randomRead(random, k), "fresh"];
    await check(spec, source, round);
    checked.push(spec);
  }
  return checked;
}

/** The client, logging every delegate call and raw statement it makes (to say which write a difference followed). */
function recording(client: WriteClient, calls: string[]): WriteClient {
  const log = (what: string, args: unknown) => calls.push(`${what}(${JSON.stringify(args)})`);
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property === "$executeRaw") return (strings: TemplateStringsArray, ...values: unknown[]) => (log(`$executeRaw\`${strings.join("${…}")}\``, values), target.$executeRaw(strings, ...values));
      if (typeof property === "string" && !property.startsWith("$") && typeof value === "object" && value !== null) {
        return new Proxy(value, { get: (delegate, operation) => (args: unknown) => (log(`${property}.${String(operation)}`, args), (Reflect.get(delegate, operation) as (args: unknown) => unknown).call(delegate, args)) });
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * A single-write step. The writing process (in turn) picks a neighbourhood (fleet.ts); every
 * process caches FOCUSED fresh reads drawn from it (checked once on the way); the writer makes 1-2
 * writes drawn from it; then every process re-checks those and the checkpoint's reads.
 */
async function singleWrite(random: Random, k: Known, round: number, step: number, cached: ReadSpec[]): Promise<void> {
  const key = `${PREFIX}:step:${round}:${step}`;
  const writing = (round * SINGLE_WRITES + step) % WORKERS === WORKER;
  if (writing) await coordination.set(`${key}:focus`, JSON.stringify(await neighbourhood(base, k, Math.floor(random() * 1000))));
  await barrier(coordination, PREFIX, `focus:${round}:${step}`, WORKERS);
  const focus = JSON.parse((await coordination.get(`${key}:focus`))!) as Known;
  const focused = Array.from({ length: FOCUSED }, () => randomRead(random, focus, true));
  for (const spec of focused) await check(spec, "focused", round);
  await barrier(coordination, PREFIX, `cached:${round}:${step}`, WORKERS);
  if (writing) {
    const done: string[] = [];
    for (let i = 0; i < 1 + Math.floor(random() * 2); i++) {
      const [name, write] = pickWrite(random, true);
      const calls: string[] = [];
      const before = report.writes;
      await stressWrite(random, focus, name, (p, r, known) => write(recording(p, calls), r, known));
      done.push(`${name}${report.writes === before ? " (rejected)" : ""}: ${calls.join("; ").slice(0, 600)}`);
    }
    await coordination.rpush(`${key}:writes`, ...done);
  }
  await barrier(coordination, PREFIX, `written:${round}:${step}`, WORKERS);
  const writes = await coordination.lrange(`${key}:writes`, 0, -1);
  // The focused reads, and some of the checkpoint's (cached before every step, re-cached by each re-check).
  for (const spec of [...focused, ...Array.from({ length: 10 }, () => pick(random, cached))]) await check(spec, "after write", round, writes);
  await barrier(coordination, PREFIX, `rechecked:${round}:${step}`, WORKERS);
}

async function round(index: number): Promise<void> {
  const random = seededRandom(SEED * 7919 + WORKER * 101 + index * 13);
  const k = await knownRows(base);
  remembered = [];
  if (WORKER === 0) await keepSmall(random, k);
  const until = Date.now() + ROUND_MS;
  await Promise.all(Array.from({ length: LOOPS }, (_, loop) => stressLoop(seededRandom(SEED * 31 + WORKER * 1009 + index * 7 + loop), k, until)));
  const sharing = remembered.slice(0, 40).map((spec) => JSON.stringify({ worker: WORKER, spec }));
  if (sharing.length > 0) await coordination.rpush(`${PREFIX}:specs:${index}`, ...sharing);
  await barrier(coordination, PREFIX, `stress:${index}`, WORKERS);
  const k2 = await knownRows(base);
  const cached = await checkpoint(random, k2, index);
  await barrier(coordination, PREFIX, `check:${index}`, WORKERS);
  for (let step = 0; step < SINGLE_WRITES; step++) await singleWrite(random, k2, index, step, cached);
  report.rounds++;
}

async function main(): Promise<void> {
  // Start together, once every worker's invalidation subscription is live (so every write is
  // acknowledged by all of them).
  await prisma.person.findFirst({ where: { name: "warm-up" } });
  const eventsChannel = `{${env("NAMESPACE")}}:events`;
  for (let i = 0; Number(((await coordination.pubsub("NUMSUB", eventsChannel)) as [string, number])[1]) < WORKERS; i++) {
    if (i > 3000) throw new Error(`not every worker subscribed to ${eventsChannel}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await barrier(coordination, PREFIX, "subscribed", WORKERS);
  for (let index = 0; ; index++) {
    await round(index);
    if ((await agree(coordination, PREFIX, `continue:${index}`, Date.now() < END_AT ? "yes" : "no")) === "no") break;
  }
  const stats = prisma.$cache.stats();
  report.stats = { l1Hits: stats.l1Hits, l2Hits: stats.l2Hits, misses: stats.misses, dbLoads: stats.dbLoads, negativeHits: stats.negativeHits, fencedStores: stats.fencedStores, invalidationsSent: stats.invalidationsSent, invalidationAckTimeouts: stats.invalidationAckTimeouts, redisErrors: stats.redisErrors, bypasses: stats.bypasses };
  report.shapes = [...shapes];
  await prisma.$cache.close();
  await base.$disconnect();
  await pool.end();
  redis.disconnect();
  coordination.disconnect();
  console.log(JSON.stringify(report));
}

await main();
