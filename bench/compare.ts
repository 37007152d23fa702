// bench:compare — the same workloads against plain Prisma, prisma-extension-redis (its README's
// configuration, and again with superjson) and prisma-cache-shield: same PostgreSQL database,
// same private redis-server, same data and concurrency, rounds interleaved (the order of the
// systems rotates every round), medians of the rounds.
//
//   npm run bench:compare              (about 4 minutes)
//   npm run bench:compare -- --quick   (about 1½ minutes, most of it start-up and seeding)
//   … -- --no-write                    (print only; do not rewrite docs/benchmarks*.{md,svg})
//   … -- --render                      (re-render the docs from docs/benchmarks.json, without measuring)
//   … -- --only=shield --workloads=zipf (a subset, e.g. under --cpu-prof; implies --no-write)
//
// Creates a scratch database and a private redis-server and removes both at the end.
// DATABASE_URL (admin connection) overrides the local default.
import os from "node:os";
import { PrismaPg } from "@prisma/adapter-pg";
import { ChaosRedis } from "../test/helpers/redis-server.ts";
import { runLoad, VersionFloor, type LoadResult, type Operation } from "./compare/load.ts";
import { startHerdWorkers, type HerdWorkers } from "./compare/herd.ts";
import { rerenderReport, writeReport } from "./compare/report.ts";
import { latencyQuantiles, summarize, type RoundResult } from "./compare/results.ts";
import { createSystem, SYSTEM_IDS, type SystemClient, type SystemId } from "./compare/systems.ts";
import * as W from "./compare/workloads.ts";
import type { Redis } from "ioredis";
import { readCommandStats, resetCommandStats } from "./lib/redis-commandstats.ts";
import { Cleanup, connectRedis, createScratchDatabase, ensureGeneratedClient, uniqueNamespace } from "./lib/setup.ts";

const QUICK = process.argv.includes("--quick");
const ONLY = listArgument("--only", SYSTEM_IDS);
const WORKLOADS = listArgument("--workloads", ["zipf", "mix", "herd", "absent"] as const);
const WRITE = !process.argv.includes("--no-write") && ONLY.length === SYSTEM_IDS.length && WORKLOADS.length === 4;
const PLAN = QUICK ? { rounds: 2, warmMs: 500, measureMs: 1_500 } : { rounds: 5, warmMs: 1_000, measureMs: 3_000 };

interface Context {
  systems: Map<SystemId, SystemClient>;
  admin: Redis;
  floor: VersionFloor;
  results: RoundResult[];
}

async function main(): Promise<void> {
  const started = performance.now();
  ensureGeneratedClient();
  const cleanup = new Cleanup();
  try {
    const redisServer = await ChaosRedis.start();
    cleanup.add("stop private redis-server", () => redisServer.stop());
    const db = await createScratchDatabase("pcs_bench_compare");
    cleanup.add("drop scratch database", db.drop);
    const admin = await connectRedis(redisServer.url);
    cleanup.add("quit Redis", () => admin.quit());
    await seed(db.url);
    const namespace = uniqueNamespace("cmp");
    const systems = new Map(SYSTEM_IDS.map((id) => [id, createSystem(id, db.url, redisServer.url, namespace)] as const));
    cleanup.add("close systems", () => Promise.all([...systems.values()].map((system) => system.close())));
    for (const system of systems.values()) await system.prepare();
    const ctx: Context = { systems, admin, floor: new VersionFloor(), results: [] };
    log(`${QUICK ? "quick" : "full"} run: ${PLAN.rounds} rounds, ${PLAN.warmMs} ms warm-up + ${PLAN.measureMs} ms per system and round`);
    await runWorkloads(ctx, cleanup, { databaseUrl: db.url, redisUrl: redisServer.url, namespace });
    const summaries = groupRounds(ctx.results).map(summarize);
    const facts = runFacts(started);
    await writeReport(summaries, facts, WRITE);
  } finally {
    await cleanup.run();
  }
}

async function runWorkloads(ctx: Context, cleanup: Cleanup, env: { databaseUrl: string; redisUrl: string; namespace: string }): Promise<void> {
  if (WORKLOADS.includes("zipf")) await timedWorkload(ctx, "zipf", (i, round) => W.zipfOperations(i, 0.05, 1000 + round));
  if (WORKLOADS.includes("mix")) await timedWorkload(ctx, "mix", (i, round) => W.zipfOperations(i, 0.3, 2000 + round));
  if (WORKLOADS.includes("absent")) await absentWorkload(ctx);
  if (WORKLOADS.includes("herd")) {
    // The herd's processes start last: their instances would otherwise acknowledge every write above.
    const workers = await startHerdWorkers(W.HERD_PROCESSES, env);
    cleanup.add("stop herd workers", () => workers.stop());
    await herdWorkload(ctx, workers);
  }
}

function runFacts(started: number) {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${os.cpus()[0]?.model.trim() ?? "unknown"} × ${os.cpus().length}`,
    load: os.loadavg().map((l) => l.toFixed(1)).join(" / "),
    mode: QUICK ? "--quick" : "full",
    plan: `${PLAN.rounds} rounds; timed workloads ${PLAN.warmMs} ms warm-up + ${PLAN.measureMs} ms measured per system and round`,
    durationS: (performance.now() - started) / 1000,
  };
}

/** Seeds 100 authors and, per system, HOT_ROWS + HERD_ROWS posts with identical contents. */
async function seed(url: string): Promise<void> {
  const { PrismaClient } = await import("../prisma/generated/client.ts");
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  try {
    await base.user.createMany({ data: Array.from({ length: 100 }, (_, i) => ({ email: `author${i}@bench.example`, name: `Author ${i}` })) });
    const authors = (await base.user.findMany({ select: { id: true } })).map((u) => u.id);
    for (let s = 0; s < SYSTEM_IDS.length; s++) {
      const rows = Array.from({ length: W.ROWS_PER_SYSTEM }, (_, i) => ({
        slug: `post-${s}-${i}`,
        title: `Benchmark post number ${i} with a title of typical length`,
        published: i % 3 !== 0,
        authorId: authors[i % authors.length]!,
      }));
      for (let i = 0; i < rows.length; i += 5_000) await base.post.createMany({ data: rows.slice(i, i + 5_000) });
    }
    const first = await base.post.findFirstOrThrow({ orderBy: { id: "asc" }, select: { id: true } });
    if (first.id !== 1) throw new Error(`expected post ids from 1, got ${first.id}`);
  } finally {
    await base.$disconnect();
  }
}

/** Each round runs every system (rotated order): an unmeasured warm-up, then a measured window. */
async function timedWorkload(ctx: Context, workload: W.WorkloadId, operations: (systemIndex: number, round: number) => () => Operation): Promise<void> {
  for (let round = 0; round < PLAN.rounds; round++) {
    for (const [index, id] of rotated(round)) {
      const system = ctx.systems.get(id)!;
      const next = operations(index, round);
      await runLoad(system, { concurrency: W.CONCURRENCY, durationMs: PLAN.warmMs, next, floor: ctx.floor });
      await measured(ctx, workload, id, round, () => runLoad(system, { concurrency: W.CONCURRENCY, durationMs: PLAN.measureMs, next, floor: ctx.floor }));
    }
  }
}

async function absentWorkload(ctx: Context): Promise<void> {
  for (let round = 0; round < PLAN.rounds; round++) {
    for (const [index, id] of rotated(round)) {
      const system = ctx.systems.get(id)!;
      const next = W.absentOperations(index, round, 3000 + round);
      await measured(ctx, "absent", id, round, () => runLoad(system, { concurrency: W.CONCURRENCY, totalOps: W.ABSENT_LOOKUPS, next, floor: ctx.floor }));
    }
  }
}

async function herdWorkload(ctx: Context, workers: HerdWorkers): Promise<void> {
  for (let round = 0; round < PLAN.rounds; round++) {
    for (const [index, id] of rotated(round)) {
      await resetCommandStats(ctx.admin);
      const reports = await workers.round(id, W.herdRow(index, round), 0, W.HERD_READS_PER_PROCESS, Date.now() + 150);
      await settle();
      const redis = await readCommandStats(ctx.admin);
      const latencies = reports.flatMap((r) => r.latencies);
      const ops = latencies.length;
      ctx.results.push({
        workload: "herd",
        system: id,
        round,
        ops,
        opsPerSec: ops / (Math.max(...latencies) / 1000),
        ...latencyQuantiles(latencies),
        writeP50Ms: NaN,
        statements: reports.reduce((total, r) => total + r.statements, 0),
        redis,
        staleReads: 0,
        wrongReads: reports.reduce((total, r) => total + r.wrongReads, 0),
        errors: reports.reduce((total, r) => total + r.errors, 0),
        firstError: reports.find((r) => r.firstError !== undefined)?.firstError,
      });
      progress(ctx.results.at(-1)!);
    }
  }
}

async function measured(ctx: Context, workload: W.WorkloadId, id: SystemId, round: number, run: () => Promise<LoadResult>): Promise<void> {
  await resetCommandStats(ctx.admin);
  const load = await run();
  await settle();
  const redis = await readCommandStats(ctx.admin);
  ctx.results.push({
    workload,
    system: id,
    round,
    ops: load.ops,
    opsPerSec: (load.ops / load.wallMs) * 1000,
    ...latencyQuantiles(load.latencies),
    writeP50Ms: load.writeLatencies.length === 0 ? NaN : latencyQuantiles(load.writeLatencies).p50Ms,
    statements: load.statements,
    redis,
    staleReads: load.staleReads,
    wrongReads: load.wrongReads,
    errors: load.errors,
    firstError: load.firstError,
  });
  progress(ctx.results.at(-1)!);
  if (process.env.COMPARE_DEBUG) log(JSON.stringify(ctx.systems.get(id)!.cacheStats() ?? {}));
}

/** Lets writes behind the measured calls (cache fills that resolve after the read) reach Redis before counting. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
}

/** The systems with their block index, in an order that rotates every round. */
function rotated(round: number): [number, SystemId][] {
  const order = SYSTEM_IDS.map((id, index) => [index, id] as [number, SystemId]).filter(([, id]) => ONLY.includes(id));
  return [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
}

function groupRounds(results: readonly RoundResult[]): RoundResult[][] {
  const groups = new Map<string, RoundResult[]>();
  for (const r of results) {
    const key = `${r.workload}/${r.system}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()];
}

function progress(r: RoundResult): void {
  const error = r.errors > 0 ? `, ${r.errors} errors (${r.firstError})` : "";
  log(
    `${r.workload.padEnd(6)} round ${r.round + 1} ${r.system.padEnd(12)} ${Math.round(r.opsPerSec).toString().padStart(6)} ops/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ` +
      `${r.statements} stmts  ${r.redis.total} redis  ${r.staleReads} stale  ${r.wrongReads} wrong${error}`,
  );
}

/** `--name=a,b`: the listed values (each must be one of `allowed`), or all of them. */
function listArgument<T extends string>(name: string, allowed: readonly T[]): T[] {
  const given = process.argv.find((arg) => arg.startsWith(`${name}=`));
  if (given === undefined) return [...allowed];
  const values = given.slice(name.length + 1).split(",");
  for (const value of values) if (!allowed.includes(value as T)) throw new Error(`${name}: unknown "${value}" (one of ${allowed.join(", ")})`);
  return values as T[];
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

if (process.argv.includes("--render")) await rerenderReport();
else await main();
process.exit(process.exitCode ?? 0);
