// The thundering herd, measured: INSTANCES processes × READS concurrent reads of one cold key,
// against a database slowed by DELAY_MS per statement, in three configurations:
//   1. no cache (plain PrismaClient): every read is a query;
//   2. in-process coalescing only (the extension without Redis): one query per process;
//   3. the full fleet-wide single loader (extension with a shared Redis): one query in all.
//
//   npx tsx bench/herd.ts          (HERD_ROUNDS=n changes the number of rounds, default 3)
//
// Each instance is a child process (bench/herd-worker.ts) with its own pg pool, PrismaClient and
// L1. The workers start once, connect and warm up, then run every round the parent sends them;
// rounds interleave the configurations (1, 2, 3, 1, 2, 3, ...) so drift of the machine spreads
// over all three. Every round uses a fresh namespace, so its key is cold. The start is a Redis
// barrier (INCR + poll); each read's latency runs from the moment its worker saw the barrier open.
// The read is findFirst, not findUnique: Prisma batches the findUniques of one tick into one query.
//
// Creates a scratch database and keys under a unique prefix and removes both at the end.
// DATABASE_URL (admin connection) and REDIS_URL override the local defaults. Targets are
// reported, not asserted: the exit code is 0 unless the benchmark itself fails.
import { PrismaPg } from "@prisma/adapter-pg";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { HerdCommand, HerdConfig, HerdReport, WorkerMessage } from "./lib/herd-protocol.ts";
import { quantile } from "./lib/measure.ts";
import { Cleanup, ensureGeneratedClient, openScratchResources, redisUrl, safeHost, uniqueNamespace } from "./lib/setup.ts";
import { deleteRunKeys, runKeys } from "./lib/run-keys.ts";
import { header, micros, renderTable } from "./lib/table.ts";

const INSTANCES = 4;
const READS = 250;
/** Added before every statement each worker sends (CountingPool.delayMs). */
const DELAY_MS = 100;
const ROUNDS = Math.max(1, Math.floor(Number(process.env.HERD_ROUNDS ?? 3)) || 3);
/** Each worker's pg pool size (pg's own default). */
const POOL_MAX = 10;
/** The extension's default. */
const LOCK_TTL_MS = 5000;
/** The longest a worker may take to start, or a round to finish, before the run is abandoned. */
const WORKER_TIMEOUT_MS = 60_000;

const TARGET_FLEET_QUERIES = 1;
const TARGET_WAITER_GAP_MS = 5;

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const WORKER_SCRIPT = fileURLToPath(new URL("./herd-worker.ts", import.meta.url));

const CONFIGS: readonly { config: HerdConfig; label: string; expected: string }[] = [
  { config: "none", label: "1. no cache (plain PrismaClient)", expected: (INSTANCES * READS).toLocaleString("en-US") },
  { config: "local", label: "2. in-process coalescing only (no Redis)", expected: `${INSTANCES}` },
  { config: "fleet", label: "3. fleet-wide single loader (shared Redis)", expected: "1" },
];

/** One round of one configuration, summarised over its workers. */
interface RoundResult {
  round: number;
  config: HerdConfig;
  reports: HerdReport[];
  queries: number;
  correct: number;
  /** Over all reads of all workers, each from its own worker's release, ms. */
  p50: number;
  p99: number;
  max: number;
  /** Latest minus earliest barrier release across workers, ms. */
  releaseSpread: number;
  /** The longest any worker took to start its reads, and the longest event-loop stall, ms. */
  issueMs: number;
  loopDelayMaxMs: number;
  redisTimeouts: number;
  redisErrors: number;
  /** Reads that skipped the cache (e.g. "redis unavailable" after a timeout), by reason. */
  bypasses: Record<string, number>;
  /** Fleet configuration only: the loader (lockAcquisitions = 1) against everyone else. */
  fleet?: FleetSplit;
}

interface FleetSplit {
  /** Workers that took the lock: exactly one when the fleet lock did its job. */
  loaders: number[];
  loaderP50: number;
  loaderP99: number;
  waiterP50: number;
  waiterP99: number;
  waiterMax: number;
  /** waiter p99 − loader p50, each read timed from its own worker's release (the target's measure). */
  gap: number;
  /** The same on one clock: every answer timed from the earliest release, so barrier skew cancels out. */
  sameClockGap: number;
  lockWaits: number;
  /** On one clock (ms from the earliest release): when things happened across the fleet. */
  timeline: {
    /** The loader's first answer: its database load returned (its reads share that one load). */
    loaderFirst: number;
    loaderLast: number;
    /** When the loader's "landed" wake-up (published once the value is in Redis) reached the waiters' processes (median). */
    landedAtWaiters: number;
    waiterFirst: number;
    waiterP99: number;
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  ensureGeneratedClient();
  const { PrismaClient } = await import("../prisma/generated/client.ts");

  const cleanup = new Cleanup();
  try {
    // ── setup ────────────────────────────────────────────────────────────────────────────────
    const { db, redis } = await openScratchResources("pcs_bench_herd", cleanup);
    // Every key of the run (entries, locks, versions, barriers, warm-ups) starts with this prefix.
    const prefix = uniqueNamespace("bench-herd");
    cleanup.add("delete Redis keys", () => deleteRunKeys(redis, prefix));
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    cleanup.add("disconnect Prisma", () => base.$disconnect());

    const author = await base.user.create({
      data: {
        email: "herd@bench.example",
        name: "Herd Author",
        posts: { create: [1, 2, 3].map((i) => ({ slug: `post-${i}`, title: `Post ${i}`, published: true })) },
      },
      include: { posts: { orderBy: { id: "asc" } } },
    });
    const expectedPostId = author.posts[0]!.id;
    await base.$disconnect();

    const workers = Array.from({ length: INSTANCES }, (_, i) =>
      startWorker(i + 1, {
        HERD_WORKER: String(i + 1),
        HERD_INSTANCES: String(INSTANCES),
        HERD_READS: String(READS),
        HERD_DELAY_MS: String(DELAY_MS),
        HERD_POOL_MAX: String(POOL_MAX),
        HERD_LOCK_TTL_MS: String(LOCK_TTL_MS),
        HERD_DATABASE_URL: db.url,
        HERD_REDIS_URL: redisUrl(),
        HERD_PREFIX: prefix,
      }),
    );
    cleanup.add("stop workers", () => workers.forEach((worker) => worker.kill()));

    const ready = await Promise.all(workers.map((worker) => worker.next("ready")));
    const startupMs = performance.now() - started;

    // ── measurements ─────────────────────────────────────────────────────────────────────────
    // Round 0 is a warm-up, run exactly like the others and reported apart: a herd is a load on
    // a long-running server, whose code paths are compiled, not on a process that just started.
    const results: RoundResult[] = [];
    const warmUp: RoundResult[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      for (const { config } of CONFIGS) {
        const command: HerdCommand = { type: "round", round, config, namespace: `${prefix}-r${round}-${config}`, authorId: author.id, expectedPostId };
        for (const worker of workers) worker.send(command);
        const reports = await Promise.all(workers.map((worker) => worker.next("report")));
        (round === 0 ? warmUp : results).push(summarizeRound(round, config, reports.map((message) => message.report)));
      }
    }
    for (const worker of workers) worker.send({ type: "exit" });
    await Promise.all(workers.map((worker) => worker.exited));
    const deleted = await deleteRunKeys(redis, prefix);
    const left = (await runKeys(redis, prefix)).length;

    // ── report ───────────────────────────────────────────────────────────────────────────────
    const byConfig = (config: HerdConfig) => results.filter((r) => r.config === config);
    const list = (values: number[], format: (v: number) => string = String) => values.map(format).join(" · ");
    const count = (v: number) => v.toLocaleString("en-US");
    const labelOf = (config: HerdConfig) => CONFIGS.find((c) => c.config === config)!.label;

    const mainTable = renderTable(
      [{ header: "configuration" }, { header: "DB queries" }, { header: "expected" }, { header: "per round" }, { header: "p50 ms" }, { header: "p99 ms" }, { header: "max ms" }, { header: "correct" }],
      CONFIGS.map(({ config, label, expected }) => {
        const rs = byConfig(config);
        return [
          label,
          count(median(rs.map((r) => r.queries))),
          expected,
          list(rs.map((r) => r.queries), count),
          micros(median(rs.map((r) => r.p50))),
          micros(median(rs.map((r) => r.p99))),
          micros(median(rs.map((r) => r.max))),
          `${count(sum(rs.map((r) => r.correct)))}/${count(rs.length * INSTANCES * READS)}`,
        ];
      }),
    );

    const roundRow = (r: RoundResult): string[] => [
      r.round === 0 ? "0 (warm-up)" : String(r.round),
      labelOf(r.config).slice(0, 2) + " " + r.config,
      count(r.queries),
      micros(r.p50),
      micros(r.p99),
      micros(r.max),
      micros(r.releaseSpread),
      micros(r.issueMs),
      micros(r.loopDelayMaxMs),
      r.redisTimeouts + r.redisErrors === 0 ? "0" : `${r.redisTimeouts}+${r.redisErrors}`,
      Object.entries(r.bypasses).map(([reason, n]) => `${n} ${reason}`).join(", ") || "–",
    ];
    const roundsTable = renderTable(
      [
        { header: "round" },
        { header: "config", align: "left" },
        { header: "queries" },
        { header: "p50" },
        { header: "p99" },
        { header: "max" },
        { header: "barrier spread" },
        { header: "issue" },
        { header: "loop stall" },
        { header: "Redis timeouts+errors" },
        { header: "bypasses", align: "left" },
      ],
      [...warmUp.map(roundRow), { rule: true }, ...results.map(roundRow)],
    );

    const fleet = byConfig("fleet");
    const f = (r: RoundResult) => r.fleet!;
    // Columns of the fleet table after "loader"; the median row is the median of each column.
    const fleetValues = (r: RoundResult): number[] => [
      f(r).loaderP50,
      f(r).waiterP50,
      f(r).waiterP99,
      f(r).waiterMax,
      f(r).gap,
      f(r).sameClockGap,
      f(r).lockWaits,
      r.releaseSpread,
    ];
    const fleetFormats = [micros, micros, micros, micros, signed, signed, String, micros];
    const fleetRow = (round: string, queries: number, loaders: string, values: number[]): string[] => [round, String(queries), loaders, ...values.map((v, i) => fleetFormats[i]!(v))];
    const fleetTable = renderTable(
      [
        { header: "round" },
        { header: "queries" },
        { header: "loader" },
        { header: "loader p50" },
        { header: "waiter p50" },
        { header: "waiter p99" },
        { header: "waiter max" },
        { header: "waiter p99 − loader p50" },
        { header: "same clock" },
        { header: "lock waits" },
        { header: "barrier spread" },
      ],
      [
        ...fleet.map((r) => fleetRow(String(r.round), r.queries, f(r).loaders.length === 0 ? "none" : f(r).loaders.map((w) => `#${w}`).join(","), fleetValues(r))),
        { rule: true },
        fleetRow("median", median(fleet.map((r) => r.queries)), "", fleetValues(fleet[0]!).map((_, column) => median(fleet.map((r) => fleetValues(r)[column]!)))),
      ],
    );

    // Columns of the one-clock timeline; the median row is the median of each column, differences included.
    const timeline = (t: FleetSplit["timeline"]): number[] => [
      t.loaderFirst,
      t.loaderLast,
      t.landedAtWaiters,
      t.waiterFirst,
      t.waiterP99,
      t.landedAtWaiters - t.loaderFirst,
      t.waiterP99 - t.landedAtWaiters,
    ];
    const timelineRow = (round: string, values: number[]): string[] => [round, ...values.map((v, i) => (i >= 5 ? signed(v) : micros(v)))];
    const timelines = fleet.map((r) => timeline(f(r).timeline));
    const timelineTable = renderTable(
      [
        { header: "round" },
        { header: "loader first" },
        { header: "loader last" },
        { header: "wake-up at waiters" },
        { header: "waiter first" },
        { header: "waiter p99" },
        { header: "loader first → wake-up" },
        { header: "wake-up → waiter p99" },
      ],
      [
        ...fleet.map((r, i) => timelineRow(String(r.round), timelines[i]!)),
        { rule: true },
        timelineRow("median", timelines[0]!.map((_, column) => median(timelines.map((values) => values[column]!)))),
      ],
    );

    const local = byConfig("local");
    const notes: string[] = [
      `in-process, per worker (rounds in order): DB loads ${list(local.flatMap((r) => r.reports.map((w) => w.dbLoads)))}; ` +
        `coalesced misses ${list(local.flatMap((r) => r.reports.map((w) => w.coalesced)))}`,
      `fleet, per worker (rounds in order): lock acquisitions ${list(fleet.flatMap((r) => r.reports.map((w) => w.lockAcquisitions)))}; ` +
        `lock waits ${list(fleet.flatMap((r) => r.reports.map((w) => w.lockWaits)))}; DB loads ${list(fleet.flatMap((r) => r.reports.map((w) => w.dbLoads)))}`,
    ];
    if (sum(results.map((r) => r.correct)) !== results.length * INSTANCES * READS) {
      notes.push("WARNING: some reads returned something other than the author's first post");
    }
    if (results.some((r) => r.redisTimeouts + r.redisErrors > 0)) {
      notes.push("WARNING: the cache absorbed Redis timeouts/errors in measured rounds: each such read bypassed the cache and queried the database itself");
    }

    const verdict = (met: boolean) => (met ? "MET    " : "NOT MET");
    const fleetQueries = fleet.map((r) => r.queries);
    const gaps = fleet.map((r) => f(r).gap);
    const medianGap = median(gaps);
    const targets = [
      `${verdict(fleetQueries.every((q) => q === TARGET_FLEET_QUERIES))}  fleet-wide single loader: ${TARGET_FLEET_QUERIES} DB query for ${count(INSTANCES * READS)} reads, every round: ` +
        `${list(fleetQueries)} (in-process only: ${list(local.map((r) => r.queries))}; no cache: ${list(byConfig("none").map((r) => r.queries), count)})`,
      `${verdict(medianGap <= TARGET_WAITER_GAP_MS)}  waiters' p99 within ${TARGET_WAITER_GAP_MS} ms of the loader's latency (waiter p99 − loader p50, median of rounds): ` +
        `${signed(medianGap)} ms (rounds ${list(gaps, signed)}; loader p50 ${micros(median(fleet.map((r) => f(r).loaderP50)))} ms, ` +
        `waiter p99 ${micros(median(fleet.map((r) => f(r).waiterP99)))} ms; on one clock ${signed(median(fleet.map((r) => f(r).sameClockGap)))} ms)`,
    ];

    const out = [
      header("prisma-cache-shield — thundering herd", {
        postgres: `${new URL(db.url).host} (scratch database ${db.name}), +${DELAY_MS} ms before every statement, pg pool max ${POOL_MAX} per worker`,
        redis: `${safeHost(redisUrl())}, keys under ${prefix}*`,
        herd: `${INSTANCES} processes × ${READS} concurrent post.findFirst({ where: { authorId }, orderBy: { id: "asc" } }) of one cold key`,
        rounds: `${ROUNDS} measured per configuration after a warm-up round, interleaved; fresh namespace every round; lockTtl ${LOCK_TTL_MS} ms`,
        workers: `started and connected in ${micros(startupMs / 1000)} s (${list(ready.map((m) => m.startupMs), micros)} ms in the workers)`,
      }),
      "",
      `Herd: ${INSTANCES} × ${READS} reads — medians of ${ROUNDS} rounds (latency over all ${count(INSTANCES * READS)} reads of a round)`,
      mainTable,
      "",
      "Fleet-wide single loader, per round (ms): loader = the worker with lockAcquisitions = 1, waiters = the other workers' reads",
      fleetTable,
      "",
      "Fleet-wide single loader on one clock (ms from the earliest barrier release; wake-up = the loader's \"landed\" message, published",
      "once the value is in Redis, as the waiters' own pattern subscriptions received it)",
      timelineTable,
      "",
      "Every round (ms)",
      roundsTable,
      "",
      "Latency: per read, from the moment its worker saw the barrier open to the answer; all of a worker's reads start then.",
      "Barrier spread: latest minus earliest release across the workers; a waiter that left the barrier later than the loader looks",
      "  faster by as much, earlier looks slower. \"same clock\" times every answer from the earliest release instead, so the spread cancels.",
      "Issue: time from the release until all of a worker's reads had started; loop stall: longest event-loop block during the herd",
      "  (worst worker). A Redis command is timed out after redisTimeout (250 ms) of wall time, event-loop stalls included.",
      ...notes,
      "",
      "Targets (reported, not asserted)",
      ...targets.map((t) => `  ${t}`),
      "",
      `Redis: deleted ${deleted} keys of the run, ${left} left`,
      `total run time ${((performance.now() - started) / 1000).toFixed(1)} s`,
    ];
    console.log(out.join("\n"));
  } finally {
    await cleanup.run();
  }
}

function summarizeRound(round: number, config: HerdConfig, reports: HerdReport[]): RoundResult {
  reports.sort((a, b) => a.worker - b.worker);
  const all = sorted(reports.flatMap((r) => r.latencies));
  const releases = reports.map((r) => r.releasedAt);
  const bypasses: Record<string, number> = {};
  for (const report of reports) for (const [reason, n] of Object.entries(report.bypasses)) bypasses[reason] = (bypasses[reason] ?? 0) + n;
  const result: RoundResult = {
    round,
    config,
    reports,
    queries: sum(reports.map((r) => r.queries)),
    correct: sum(reports.map((r) => r.correct)),
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    max: all[all.length - 1] ?? NaN,
    releaseSpread: Math.max(...releases) - Math.min(...releases),
    issueMs: Math.max(...reports.map((r) => r.issueMs)),
    loopDelayMaxMs: Math.max(...reports.map((r) => r.loopDelayMaxMs)),
    redisTimeouts: sum(reports.map((r) => r.redisTimeouts)),
    redisErrors: sum(reports.map((r) => r.redisErrors)),
    bypasses,
  };
  if (config === "fleet") {
    const origin = Math.min(...releases);
    const loaders = reports.filter((r) => r.lockAcquisitions > 0);
    const waiters = reports.filter((r) => r.lockAcquisitions === 0);
    const own = (rs: HerdReport[]) => sorted(rs.flatMap((r) => r.latencies));
    const shared = (rs: HerdReport[]) => sorted(rs.flatMap((r) => r.latencies.map((latency) => r.releasedAt - origin + latency)));
    const loaderLatencies = own(loaders);
    const waiterLatencies = own(waiters);
    const loaderShared = shared(loaders);
    const waiterShared = shared(waiters);
    result.fleet = {
      loaders: loaders.map((r) => r.worker),
      loaderP50: quantile(loaderLatencies, 0.5),
      loaderP99: quantile(loaderLatencies, 0.99),
      waiterP50: quantile(waiterLatencies, 0.5),
      waiterP99: quantile(waiterLatencies, 0.99),
      waiterMax: waiterLatencies[waiterLatencies.length - 1] ?? NaN,
      gap: quantile(waiterLatencies, 0.99) - quantile(loaderLatencies, 0.5),
      sameClockGap: quantile(waiterShared, 0.99) - quantile(loaderShared, 0.5),
      lockWaits: sum(reports.map((r) => r.lockWaits)),
      timeline: {
        loaderFirst: loaderShared[0] ?? NaN,
        loaderLast: loaderShared[loaderShared.length - 1] ?? NaN,
        landedAtWaiters: median(waiters.map((r) => (r.landedAt ?? NaN) - origin)),
        waiterFirst: waiterShared[0] ?? NaN,
        waiterP99: quantile(waiterShared, 0.99),
      },
    };
  }
  return result;
}

// ── workers ──────────────────────────────────────────────────────────────────────────────────

interface Worker {
  send(command: HerdCommand): void;
  /** The worker's next message, which must be of this type (an "error" message rejects). */
  next<T extends Exclude<WorkerMessage["type"], "error">>(type: T): Promise<Extract<WorkerMessage, { type: T }>>;
  /** Resolves when the process has exited with code 0; rejects otherwise. */
  exited: Promise<void>;
  kill(): void;
}

function startWorker(index: number, env: Record<string, string>): Worker {
  const child: ChildProcess = spawn(process.execPath, ["--expose-gc", "--import", "tsx", WORKER_SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const inbox: WorkerMessage[] = [];
  let waiting: ((message: WorkerMessage | Error) => void) | undefined;
  let failure: Error | undefined;
  const deliver = (message: WorkerMessage | Error) => {
    if (waiting === undefined) {
      if (message instanceof Error) failure ??= message;
      else inbox.push(message);
      return;
    }
    const resolve = waiting;
    waiting = undefined;
    resolve(message);
  };
  child.on("message", (message: WorkerMessage) => deliver(message));
  const exited = new Promise<void>((resolve, reject) => {
    child.once("exit", (code, signal) => {
      if (code === 0) return resolve();
      const error = new Error(`herd worker #${index} exited with ${code ?? signal}${output.trim() === "" ? "" : `:\n${output.trim()}`}`);
      deliver(error);
      reject(error);
    });
  });
  exited.catch(() => {});
  return {
    send: (command) => void child.send(command),
    next: async (type) => {
      const message =
        inbox.shift() ??
        failure ??
        (await new Promise<WorkerMessage | Error>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`herd worker #${index}: no "${type}" within ${WORKER_TIMEOUT_MS / 1000} s${output.trim() === "" ? "" : `:\n${output.trim()}`}`)), WORKER_TIMEOUT_MS);
          waiting = (m) => {
            clearTimeout(timer);
            resolve(m);
          };
        }));
      if (message instanceof Error) throw message;
      if (message.type === "error") throw new Error(`herd worker #${message.worker} failed:\n${message.message}`);
      if (message.type !== type) throw new Error(`herd worker #${index}: expected "${type}", got "${message.type}"`);
      return message as Extract<WorkerMessage, { type: typeof type }>;
    },
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

function sorted(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

function sum(values: readonly number[]): number {
  return values.reduce((total, v) => total + v, 0);
}

function median(values: readonly number[]): number {
  return quantile(sorted(values), 0.5);
}

/** A signed difference in ms: +1.23, −0.45. */
function signed(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return `${value < 0 ? "−" : "+"}${micros(Math.abs(value))}`;
}


main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
