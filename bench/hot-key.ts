// Hot keys, measured: a zipf(ZIPF_S) read workload over KEYS users from INSTANCES processes, on a
// model with `l1: false` — so without hot-key handling every read is a Redis round trip — with
// hot-key handling off (`hotKeys: false`) and on (`hotKeys: { threshold, window, replicas }`,
// `l1: { maxTtl }`): hot keys are then held in each process's L1 for up to maxTtl and looked up
// in Redis under `replicas` keys (the primary and replicas − 1 `{r<n>:…}` hash-tagged copies).
//
//   npx tsx bench/hot-key.ts     (HOT_ROUNDS=n repeats both configurations, order alternating; default 1)
//
// Each instance is a child process (bench/hot-key-worker.ts) with its own pg pool, PrismaClient
// and L1; they start together (after both are connected and subscribed) and read one at a time.
// Rank r is user id r; every process draws its own sequence. Each configuration runs on a fresh
// namespace, in two phases the parent starts in step: "cold" (the cache is empty and no key is
// hot yet) and "warm" (the same processes continue: the popular keys are cached and, with
// hot-key handling, detected — the steady state). DB statements are counted by each worker's
// counting pg pool; Redis commands and lookups (the read path's one-round-trip LOOKUP script)
// with MONITOR, by key.
//
// Creates a scratch database and keys under a unique prefix and removes both at the end.
// DATABASE_URL (admin connection) and REDIS_URL override the local defaults.
import { PrismaPg } from "@prisma/adapter-pg";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { cacheExtension } from "../src/index.ts";
import type { HotCommand, HotConfig, HotMessage, HotReport } from "./hot-key-worker.ts";
import { quantile } from "./lib/measure.ts";
import { countsBetween, describeCommands, startRedisMonitor, type NamespaceCounts } from "./lib/redis-monitor.ts";
import { deleteRunKeys, runKeys, scanKeys, waitForSubscribers } from "./lib/run-keys.ts";
import { Cleanup, connectRedis, createScratchDatabase, ensureGeneratedClient, redisUrl, uniqueNamespace, safeHost } from "./lib/setup.ts";
import { header, micros, renderTable, type Row } from "./lib/table.ts";

const INSTANCES = 2;
const KEYS = 10_000;
const ZIPF_S = 1.2;
/** Reads per process in each phase. */
const PHASES: readonly { name: string; reads: number }[] = [
  { name: "cold", reads: 10_000 },
  { name: "warm", reads: 15_000 },
];
const ROUNDS = Math.max(1, Math.floor(Number(process.env.HOT_ROUNDS ?? 1)) || 1);
const HOT = { threshold: 100, window: 10, replicas: 3 };
const L1_MAX_TTL = 1;
const WORKER_TIMEOUT_MS = 60_000;

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const WORKER_SCRIPT = fileURLToPath(new URL("./hot-key-worker.ts", import.meta.url));

const CONFIGS: readonly { config: HotConfig; label: string }[] = [
  { config: "off", label: "hotKeys: false" },
  { config: "on", label: `hotKeys: { threshold: ${HOT.threshold}, replicas: ${HOT.replicas} }` },
];

/** One phase of one configuration in one round. */
interface PhaseResult {
  round: number;
  config: HotConfig;
  label: string;
  phase: number;
  namespace: string;
  reports: HotReport[];
  redis: NamespaceCounts;
  topKey: string;
  /** LOOKUPs of the top key: primary first, then each replica key. */
  topLookups: Array<{ key: string; lookups: number }>;
  wallMs: number;
}

async function main(): Promise<void> {
  const started = performance.now();
  ensureGeneratedClient();
  const { PrismaClient } = await import("../prisma/generated/client.ts");

  const cleanup = new Cleanup();
  try {
    // ── setup ────────────────────────────────────────────────────────────────────────────────
    const db = await createScratchDatabase("pcs_bench_hot_key");
    cleanup.add("drop scratch database", db.drop);
    const seeder = new pg.Client({ connectionString: db.url });
    await seeder.connect();
    await seeder.query(`INSERT INTO "User" (email, name) SELECT 'user' || i || '@bench.example', 'Bench User ' || i FROM generate_series(1, ${KEYS}) AS i`);
    await seeder.query(`ANALYZE "User"`);
    const { rows: [range] } = await seeder.query<{ min: number; max: number }>(`SELECT min(id) AS min, max(id) AS max FROM "User"`);
    await seeder.end();
    if (range!.min !== 1 || range!.max !== KEYS) throw new Error(`expected ids 1..${KEYS}, got ${range!.min}..${range!.max}`);

    const redis = await connectRedis();
    cleanup.add("quit Redis", () => redis.quit());
    const prefix = uniqueNamespace("bench-hot");
    cleanup.add("delete Redis keys", () => deleteRunKeys(redis, prefix));
    const monitor = await startRedisMonitor(redis, redisUrl(), prefix, { perKey: true });
    cleanup.add("stop Redis monitor", () => monitor.stop());

    // The cache key of `findUnique({ where: { id: 1 } })` under a namespace: learnt from a probe
    // read rather than rebuilt from the library's internals (it embeds a schema fingerprint).
    const keySuffix = await (async () => {
      const probeNamespace = `${prefix}-probe`;
      const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
      const probe = base.$extends(cacheExtension({ redis, namespace: probeNamespace, models: { User: true } }));
      try {
        await probe.user.findUnique({ where: { id: 1 } });
        await probe.$cache.drain();
        for (let attempt = 0; attempt < 100; attempt++) {
          const keys = (await scanKeys(redis, `${probeNamespace}:*`)).filter((key) => key.includes(":User:findUnique:") && !key.endsWith(":lock"));
          if (keys.length === 1) return keys[0]!.slice(probeNamespace.length);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        throw new Error("the probe read wrote no entry");
      } finally {
        await probe.$cache.close();
        await base.$disconnect();
      }
    })();

    // ── measurements ─────────────────────────────────────────────────────────────────────────
    /** One configuration, one round: INSTANCES fresh workers on a fresh namespace, every phase. */
    const runConfig = async (round: number, config: HotConfig, label: string): Promise<PhaseResult[]> => {
      const namespace = `${prefix}-${config}-r${round}`;
      const workers = Array.from({ length: INSTANCES }, (_, i) =>
        startWorker(i + 1, {
          HOT_WORKER: String(i + 1),
          HOT_CONFIG: config,
          HOT_PHASES: PHASES.map((phase) => phase.reads).join(","),
          HOT_KEYS: String(KEYS),
          HOT_ZIPF_S: String(ZIPF_S),
          HOT_SEED: String(1000 * round + i),
          HOT_THRESHOLD: String(HOT.threshold),
          HOT_WINDOW: String(HOT.window),
          HOT_REPLICAS: String(HOT.replicas),
          HOT_L1_MAX_TTL: String(L1_MAX_TTL),
          HOT_DATABASE_URL: db.url,
          HOT_REDIS_URL: redisUrl(),
          HOT_NAMESPACE: namespace,
        }),
      );
      cleanup.add(`stop ${config} workers of round ${round}`, () => workers.forEach((worker) => worker.kill()));
      await Promise.all(workers.map((worker) => worker.next("ready")));
      // Every instance's invalidation subscription is live: L1 (hot keys) is trusted from the first read.
      await waitForSubscribers(redis, namespace, INSTANCES);
      const topKey = `${namespace}${keySuffix}`;
      const phases: PhaseResult[] = [];
      for (let phase = 0; phase < PHASES.length; phase++) {
        const before = await monitor.snapshot();
        const t0 = performance.now();
        for (const worker of workers) worker.send({ type: "go", phase });
        const reports = (await Promise.all(workers.map((worker) => worker.next("report")))).map((message) => message.report);
        const wallMs = performance.now() - t0;
        // Replica copies are stored in the background: let them land before counting.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const counts = countsBetween(before, await monitor.snapshot(), namespace);
        const topLookups = Object.entries(counts.lookupsByKey)
          .filter(([key]) => key === topKey || (key.startsWith("{r") && key.endsWith(`}${topKey}`)))
          .map(([key, lookups]) => ({ key, lookups }))
          .sort((a, b) => (a.key === topKey ? -1 : b.key === topKey ? 1 : a.key.localeCompare(b.key)));
        phases.push({ round, config, label, phase, namespace, reports, redis: counts, topKey, topLookups, wallMs });
      }
      await Promise.all(workers.map((worker) => worker.exited));
      return phases;
    };
    // Rounds alternate the order (off, on, on, off, …), so drift of the machine spreads over both.
    const results: PhaseResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? CONFIGS : [...CONFIGS].reverse();
      for (const { config, label } of order) results.push(...(await runConfig(round, config, label)));
    }
    await monitor.stop();
    const deleted = await deleteRunKeys(redis, prefix);
    const left = (await runKeys(redis, prefix)).length;

    // ── report ───────────────────────────────────────────────────────────────────────────────
    const count = (v: number) => v.toLocaleString("en-US");
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    const select = (config: HotConfig, phase: number) => results.filter((r) => r.config === config && r.phase === phase);
    /** One line of the main table: a configuration's phase, over every round. */
    const summarize = (rs: PhaseResult[]) => {
      const reports = rs.flatMap((r) => r.reports);
      const all = sorted(reports.flatMap((w) => w.latencies));
      const top = sorted(reports.flatMap((w) => w.topLatencies));
      const reads = sum(reports.map((w) => w.reads));
      const lookups = sum(rs.map((r) => r.redis.lookups));
      return [
        count(reads),
        count(sum(reports.map((w) => w.queries))),
        count(sum(rs.map((r) => r.redis.total))),
        count(lookups),
        (lookups / reads).toFixed(3),
        count(top.length),
        count(sum(rs.flatMap((r) => r.topLookups.map((t) => t.lookups)))),
        count(sum(reports.map((w) => w.l1Hits))),
        micros(quantile(all, 0.5)),
        micros(quantile(all, 0.99)),
        micros(quantile(top, 0.5)),
        micros(quantile(top, 0.99)),
        (sum(rs.map((r) => r.wallMs)) / 1000).toFixed(1),
        String(sum(reports.map((w) => w.wrong))),
      ];
    };
    const phaseTitle = (phase: number) =>
      `${phase + 1}. ${PHASES[phase]!.name}: ${phase === 0 ? "the first" : "the next"} ${count(PHASES[phase]!.reads)} reads per process` +
      (phase === 0 ? " (empty cache, no key hot yet)" : " (same processes: popular keys cached and detected)") +
      (ROUNDS > 1 ? `, ${ROUNDS} rounds pooled` : "");
    const mainTable = renderTable(
      [
        { header: "configuration" },
        { header: "reads" },
        { header: "DB queries" },
        { header: "Redis cmds" },
        { header: "Redis lookups" },
        { header: "per read" },
        { header: "top-key reads" },
        { header: "top-key lookups" },
        { header: "L1 hits" },
        { header: "p50 µs" },
        { header: "p99 µs" },
        { header: "top-key p50" },
        { header: "top-key p99" },
        { header: "wall s" },
        { header: "wrong" },
      ],
      PHASES.flatMap((_, phase): Row[] => [
        ...(phase === 0 ? [] : [{ rule: true } as const]),
        { section: phaseTitle(phase) },
        ...CONFIGS.map(({ config, label }) => [`  ${label}`, ...summarize(select(config, phase))]),
      ]),
    );
    const replicaColumns = Math.max(...results.map((r) => r.topLookups.length));
    const shortKey = (key: string, topKey: string) => (key === topKey ? "primary <ns>:…" : `${key.slice(0, key.indexOf("}") + 1)}<ns>:…`);
    const replicaTable = renderTable(
      [{ header: "configuration" }, { header: "phase" }, { header: "round" }, ...Array.from({ length: replicaColumns }, (_, i) => ({ header: `key ${i + 1}` })), { header: "total" }],
      CONFIGS.flatMap(({ config, label }) =>
        results
          .filter((r) => r.config === config)
          .map((r) => [
            label,
            PHASES[r.phase]!.name,
            String(r.round),
            ...Array.from({ length: replicaColumns }, (_, i) => {
              const t = r.topLookups[i];
              return t === undefined ? "–" : `${shortKey(t.key, r.topKey)}: ${count(t.lookups)}`;
            }),
            count(sum(r.topLookups.map((t) => t.lookups))),
          ]),
      ),
    );
    const perWorker: Row[] = CONFIGS.flatMap(({ config }) =>
      results
        .filter((r) => r.config === config)
        .flatMap((r) =>
          r.reports.map((w) => [
            `${r.config} ${PHASES[r.phase]!.name} r${r.round} #${w.worker}`,
            count(w.queries),
            count(w.l1Hits),
            count(w.l2Hits),
            count(w.misses),
            count(w.dbLoads),
            count(w.lockAcquisitions),
            count(w.lockWaits),
            count(w.replicaReads),
            (w.durationMs / 1000).toFixed(1),
            w.hotKeys.length === 0 ? "–" : w.hotKeys.slice(0, 6).map((h) => `#${idOf(h.key)}≈${count(h.estimate)}`).join(" "),
          ]),
        ),
    );
    const workerTable = renderTable(
      [
        { header: "worker" },
        { header: "DB queries" },
        { header: "L1 hits" },
        { header: "L2 hits" },
        { header: "misses" },
        { header: "DB loads" },
        { header: "locks" },
        { header: "lock waits" },
        { header: "replica reads" },
        { header: "s" },
        { header: "hottest keys at the phase's end (user id ≈ estimated reads per window)", align: "left" },
      ],
      perWorker,
    );
    const breakdown = CONFIGS.flatMap(({ config, label }) =>
      results
        .filter((r) => r.config === config)
        .map(
          (r) =>
            `  ${`${label}, ${PHASES[r.phase]!.name}${ROUNDS > 1 ? `, round ${r.round}` : ""}`.padEnd(54)} ${describeCommands(r.redis.commands)}; ${count(Object.keys(r.redis.lookupsByKey).length)} distinct keys looked up\n` +
            `  ${"".padEnd(54)} inside scripts: ${describeCommands(r.redis.luaCommands)}`,
        ),
    );
    const hotIds = (r: PhaseResult) => [...new Set(r.reports.flatMap((w) => w.hotKeys.filter((h) => h.estimate >= HOT.threshold).map((h) => idOf(h.key))))].sort((a, b) => a - b);
    const replicatedKeys = (rs: PhaseResult[]) => new Set(rs.flatMap((r) => Object.keys(r.redis.lookupsByKey).filter((key) => key.startsWith("{r")).map((key) => key.slice(key.indexOf("}") + 1))));
    const expectedTop = 1 / harmonic(KEYS, ZIPF_S);

    const warnings: string[] = [];
    for (const r of results) {
      const where = `${r.label}, ${PHASES[r.phase]!.name}, round ${r.round}`;
      const wrong = sum(r.reports.map((w) => w.wrong));
      if (wrong > 0) warnings.push(`WARNING: ${where}: ${wrong} reads returned the wrong user`);
      for (const w of r.reports) {
        if (w.redisErrors + w.redisTimeouts > 0) warnings.push(`WARNING: ${where} #${w.worker}: ${w.redisErrors} Redis errors, ${w.redisTimeouts} timeouts absorbed (those reads bypassed the cache)`);
        const bypasses = Object.entries(w.bypasses).map(([reason, n]) => `${n} ${reason}`).join(", ");
        if (bypasses !== "") warnings.push(`note: ${where} #${w.worker} bypasses: ${bypasses}`);
      }
    }

    const out = [
      header("prisma-cache-shield — hot keys", {
        postgres: `${new URL(db.url).host} (scratch database ${db.name}), ${count(KEYS)} users`,
        redis: `${safeHost(redisUrl())}, namespaces ${prefix}-*; commands counted with MONITOR (from a child process)`,
        workload: `${INSTANCES} processes, findUnique by id, one at a time; zipf(${ZIPF_S}) over ${count(KEYS)} ids (top key = id 1 ≈ ${(expectedTop * 100).toFixed(1)} % of reads)`,
        phases: PHASES.map((phase) => `${phase.name} ${count(phase.reads)}`).join(", ") + ` reads per process; ${ROUNDS} round${ROUNDS === 1 ? "" : "s"}; every configuration starts cold (fresh namespace, new processes)`,
        cache: `models: { User: { l1: false } }, l1: { maxTtl: ${L1_MAX_TTL} }; hot: window ${HOT.window} s (default), detector samples 1 read in 8, tracks the top 20`,
      }),
      "",
      mainTable,
      "",
      "Redis cmds: every command of the namespace's clients (MONITOR, round trips only); Redis lookups: the LOOKUP script calls among them.",
      "Latency: microseconds per read (each awaited on its own), over both processes; top key = user id 1. wall s: from go to the last report.",
      "",
      "Redis lookups of the top key, per key (primary entry key and its {r<n>:…} replica keys)",
      replicaTable,
      "",
      "Per process ($cache.stats() deltas over the phase)",
      workerTable,
      "",
      "Redis commands by name",
      ...breakdown,
      "",
      ...results
        .filter((r) => r.config === "on")
        .map((r) => `hot at the end of ${PHASES[r.phase]!.name}${ROUNDS > 1 ? ` (round ${r.round})` : ""} (estimate ≥ ${HOT.threshold} among the 10 hottest keys $cache.stats() lists, either process): ${hotIds(r).map((id) => `#${id}`).join(" ") || "none"}`),
      `keys that were hot at some point: at least ${count(replicatedKeys(results.filter((r) => r.config === "on")).size)} (those with {r<n>:…} replica lookups; the detector tracks at most 20 keys per process)`,
      ...(warnings.length === 0 ? [] : ["", ...warnings]),
      "",
      `clean-up: ${count(deleted)} Redis keys of the run deleted (entries, {r<n>:…} replicas, {ns} versions), ${count(left)} left; scratch database dropped at exit`,
      `total run time ${((performance.now() - started) / 1000).toFixed(1)} s`,
    ];
    console.log(out.join("\n"));
  } finally {
    await cleanup.run();
  }
}

// ── workers ──────────────────────────────────────────────────────────────────────────────────

interface Worker {
  send(command: HotCommand): void;
  /** The worker's next message, which must be of this type (an "error" message rejects). */
  next<T extends Exclude<HotMessage["type"], "error">>(type: T): Promise<Extract<HotMessage, { type: T }>>;
  /** Resolves when the process has exited with code 0; rejects otherwise. */
  exited: Promise<void>;
  kill(): void;
}

function startWorker(index: number, env: Record<string, string>): Worker {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", WORKER_SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const inbox: Array<HotMessage | Error> = [];
  let waiting: ((message: HotMessage | Error) => void) | undefined;
  const deliver = (message: HotMessage | Error) => {
    if (waiting === undefined) return void inbox.push(message);
    const resolve = waiting;
    waiting = undefined;
    resolve(message);
  };
  child.on("message", (message: HotMessage) => deliver(message));
  const exited = new Promise<void>((resolve, reject) => {
    child.once("exit", (code, signal) => {
      if (code === 0) return resolve();
      const error = new Error(`hot-key worker #${index} exited with ${code ?? signal}${output.trim() === "" ? "" : `:\n${output.trim()}`}`);
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
        (await new Promise<HotMessage | Error>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`hot-key worker #${index}: no "${type}" within ${WORKER_TIMEOUT_MS / 1000} s${output.trim() === "" ? "" : `:\n${output.trim()}`}`)), WORKER_TIMEOUT_MS);
          waiting = (m) => {
            clearTimeout(timer);
            resolve(m);
          };
        }));
      if (message instanceof Error) throw message;
      if (message.type === "error") throw new Error(`hot-key worker #${index} failed:\n${message.message}`);
      if (message.type !== type) throw new Error(`hot-key worker #${index}: expected "${type}", got "${message.type}"`);
      return message as Extract<HotMessage, { type: typeof type }>;
    },
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

/** The user id in a findUnique cache key (its canonical args end with the id). */
function idOf(key: string): number {
  const match = /(\d+)\D*$/.exec(key);
  return match === null ? NaN : Number(match[1]);
}

function harmonic(n: number, s: number): number {
  let total = 0;
  for (let r = 1; r <= n; r++) total += r ** -s;
  return total;
}

function sorted(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}


main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
