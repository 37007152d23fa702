// The chaos run: several app processes (bench/chaos-worker.ts, each its own PrismaClient, L1
// and Redis connections) read and write 2 000 users (zipf; 90 % findUnique, 10 % update) through
// a private redis-server while a timeline of faults hits it: a failover (a replica promoted while
// the primary still took writes, so it lacks the last ones; the primary killed and the clients'
// address, a TCP proxy, moved to the replica, which takes the later faults), SIGSTOP, kill and
// restart empty, CLIENT KILL (normal, pubsub), out of memory (maxmemory + noeviction), a password
// required and clients dropped, DEBUG SLEEP. Every read is judged against a version oracle kept on another
// Redis (REDIS_URL): a read is stale if it returns a version lower than one a write had
// produced and resolved before the read started. Prints, per phase: requests, failures, stale
// reads, reads over 1 s, p99, max and the hit rate. Target: 0 / 0 / 0 in every phase.
//
//   npm run chaos          (WORKERS=4 LOOPS=8 CHAOS_SCALE=1 adjust it; CIRCUIT_BREAKER=off compares;
//                           PHASES=failover runs only the phases so named, after the baseline; ~1 minute)
//
// Everything runs on 127.0.0.1: a scratch database (dropped at the end), a redis-server on a free
// port (killed at the end), oracle keys under a unique prefix on REDIS_URL (deleted at the end).
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../prisma/generated/client.ts";
import { ChaosRedis } from "../test/helpers/redis-server.ts";
import { TcpProxy } from "../test/helpers/tcp-proxy.ts";
import type { ChaosCommand, ChaosWorkerMessage, PhaseCounts } from "./chaos-worker.ts";
import { quantile } from "./lib/measure.ts";
import { Cleanup, deleteNamespace, ensureGeneratedClient, openScratchResources, redisUrl, safeHost, uniqueNamespace } from "./lib/setup.ts";
import { header, renderTable } from "./lib/table.ts";

const WORKERS = Number(process.env.WORKERS ?? 4);
const LOOPS = Number(process.env.LOOPS ?? 8);
const SCALE = Number(process.env.CHAOS_SCALE ?? 1) > 0 ? Number(process.env.CHAOS_SCALE ?? 1) : 1;
const USERS = 2_000;
const WORKER_SCRIPT = fileURLToPath(new URL("./chaos-worker.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The faulty primary (the promoted replica after the failover), its admin connection, the replica and the proxy every worker reaches Redis through. */
interface Servers {
  chaos: ChaosRedis;
  admin: Redis;
  replica: ChaosRedis;
  proxy: TcpProxy;
}

interface Phase {
  name: string;
  ms: number;
  /** The fault (or its end) applied as the phase starts. */
  start?: (servers: Servers) => Promise<unknown> | void;
}

const TIMELINE: Phase[] = [
  { name: "baseline", ms: 5_000 },
  {
    // Asynchronous replication: the replica stops (promoted) while the primary still takes writes
    // for 1.5 s (writes that announced before it stopped are covered by their replicated
    // announcement: only later ones are lost), so it lacks their bumps and marks; then the
    // primary dies, the workers' address leads to the replica, and it takes the later faults.
    // Early in the timeline: later phases leave dirty marks standing (writers cut off), and
    // marked rows are read from the database, so a lost write could not show there.
    name: "failover (replica missed 1.5 s of writes)",
    ms: 5_000,
    start: async (servers) => {
      const { chaos, replica, proxy } = servers;
      await replica.replicatedFrom(chaos);
      await replica.promote();
      await sleep(1_500);
      await chaos.stop();
      proxy.switchTo(replica.port);
      servers.admin.disconnect();
      servers.admin = adminOf(replica);
      servers.chaos = replica;
    },
  },
  { name: "paused (SIGSTOP 3 s)", ms: 3_000, start: ({ chaos }) => chaos.pause() },
  { name: "after pause", ms: 4_000, start: ({ chaos }) => chaos.resume() },
  { name: "killed, restarted empty", ms: 5_000, start: ({ chaos }) => chaos.restartEmpty() },
  { name: "CLIENT KILL TYPE normal", ms: 4_000, start: ({ admin }) => admin.call("CLIENT", "KILL", "TYPE", "normal") },
  { name: "CLIENT KILL TYPE pubsub", ms: 4_000, start: ({ admin }) => admin.call("CLIENT", "KILL", "TYPE", "pubsub") },
  { name: "out of memory (noeviction)", ms: 4_000, start: ({ admin }) => admin.config("SET", "maxmemory", "1") },
  { name: "after OOM", ms: 3_000, start: ({ admin }) => admin.config("SET", "maxmemory", "0") },
  {
    name: "password required, clients dropped",
    ms: 3_000,
    start: async ({ admin }) => {
      await admin.config("SET", "requirepass", "chaos-secret");
      await admin.call("CLIENT", "KILL", "TYPE", "normal");
      await admin.call("CLIENT", "KILL", "TYPE", "pubsub");
    },
  },
  { name: "after auth restored", ms: 4_000, start: ({ admin }) => admin.config("SET", "requirepass", "") },
  // DEBUG SLEEP blocks the server (and this connection) for 2 s: not awaited.
  { name: "DEBUG SLEEP 2", ms: 4_000, start: ({ admin }) => void admin.call("DEBUG", "SLEEP", "2").catch(() => {}) },
  { name: "calm", ms: 5_000 },
];

const SERVER_ARGS = ["--enable-debug-command", "local", "--maxmemory-policy", "noeviction"];

function adminOf(server: ChaosRedis): Redis {
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  admin.on("error", () => {});
  return admin;
}

/** The timeline, or with PHASES=failover,pause (substrings of phase names) only those between the baseline and the calm. */
function timeline(): Phase[] {
  const wanted = process.env.PHASES?.split(",").filter((part) => part !== "");
  if (wanted === undefined || wanted.length === 0) return TIMELINE;
  return TIMELINE.filter((phase, i) => i === 0 || i === TIMELINE.length - 1 || wanted.some((part) => phase.name.includes(part)));
}

async function main(): Promise<void> {
  ensureGeneratedClient();
  const cleanup = new Cleanup();
  try {
    const { db, redis: oracleRedis } = await openScratchResources("pcs_chaos", cleanup);
    const chaos = await ChaosRedis.start(undefined, SERVER_ARGS);
    cleanup.add("stop redis-server", () => chaos.stop());
    const replica = await ChaosRedis.startReplicaOf(chaos, SERVER_ARGS);
    cleanup.add("stop the replica", () => replica.stop());
    const proxy = await TcpProxy.start(chaos.port);
    cleanup.add("stop the proxy", () => proxy.stop());
    const servers: Servers = { chaos, admin: adminOf(chaos), replica, proxy };
    cleanup.add("disconnect admin", () => servers.admin.disconnect());
    const oraclePrefix = uniqueNamespace("chaos-oracle");
    cleanup.add("delete oracle keys", () => deleteNamespace(oracleRedis, oraclePrefix));
    const userIds = await seedUsers(db.url);
    const namespace = uniqueNamespace("chaos");
    const env = { DATABASE_URL: db.url, CHAOS_REDIS_URL: proxy.url, REDIS_URL: redisUrl(), ORACLE_PREFIX: oraclePrefix, USER_IDS: JSON.stringify(userIds), NAMESPACE: namespace, LOOPS: String(LOOPS) };
    const workers = Array.from({ length: WORKERS }, (_, i) => startWorker({ ...env, SEED: String(1_000 + i) }));
    cleanup.add("kill workers", () => workers.forEach((w) => w.child.kill("SIGKILL")));
    await Promise.all(workers.map((w) => w.ready));
    for (const phase of timeline()) {
      for (const w of workers) w.send({ type: "phase", name: phase.name });
      await phase.start?.(servers);
      await sleep(phase.ms * SCALE);
    }
    for (const w of workers) w.send({ type: "stop" });
    const reports = await Promise.all(workers.map((w) => w.report));
    print(reports, { redis: `redis-server ${chaos.port} (private; replica ${replica.port}; workers through a proxy)`, oracle: safeHost(redisUrl()), workers: `${WORKERS} × ${LOOPS} loops` });
  } finally {
    await cleanup.run();
  }
}

async function seedUsers(url: string): Promise<number[]> {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  try {
    await prisma.user.createMany({ data: Array.from({ length: USERS }, (_, i) => ({ email: `chaos-${i}@example.com`, name: `User ${i}` })) });
    return (await prisma.user.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((user) => user.id);
  } finally {
    await prisma.$disconnect();
  }
}

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  report: Promise<Extract<ChaosWorkerMessage, { type: "report" }>>;
  send(command: ChaosCommand): void;
}

function startWorker(env: Record<string, string>): Worker {
  const child = spawn(process.execPath, ["--import", "tsx", WORKER_SCRIPT], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let onReady!: () => void;
  let onReport!: (report: Extract<ChaosWorkerMessage, { type: "report" }>) => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const report = new Promise<Extract<ChaosWorkerMessage, { type: "report" }>>((resolve, reject) => {
    onReport = resolve;
    child.once("exit", (code) => reject(new Error(`chaos worker exited with ${code} before reporting`)));
  });
  child.on("message", (message: ChaosWorkerMessage) => (message.type === "ready" ? onReady() : onReport(message)));
  return { child, ready, report, send: (command) => child.connected && child.send(command) };
}

function print(reports: ReadonlyArray<Extract<ChaosWorkerMessage, { type: "report" }>>, context: Record<string, string>): void {
  const rows = timeline().map((phase) => {
    const parts = reports.map((r) => r.phases[phase.name]).filter((p): p is PhaseCounts => p !== undefined);
    const sum = (field: "requests" | "failures" | "stale" | "over1s" | "writesOver1s" | "hits" | "reads") => parts.reduce((total, p) => total + p[field], 0);
    const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
    const reads = sum("reads");
    // Hits are back in the fleet when the slowest process has its first one.
    const firstHits = parts.map((p) => p.firstHitMs);
    const hitsBack = firstHits.some((t) => t === null) || firstHits.length === 0 ? "none" : ms(Math.max(...(firstHits as number[])));
    return [phase.name, String(sum("requests")), String(sum("failures")), String(sum("stale")), String(sum("over1s")), String(sum("writesOver1s")), ms(quantile(latencies, 0.99)), ms(latencies.at(-1) ?? 0), reads === 0 ? "-" : `${Math.round((100 * sum("hits")) / reads)} %`, hitsBack];
  });
  console.log(header("chaos: faults on a private redis-server, every read judged by a version oracle", context));
  console.log(renderTable(["phase", "requests", "failures", "stale", "reads > 1 s", "writes > 1 s", "p99", "max", "hit rate", "hits back after"].map((title) => ({ header: title })), rows));
  const totals: Record<string, number> = {};
  for (const report of reports) {
    const stats = report.stats as Record<string, unknown> & { bypasses: Record<string, number> };
    for (const field of ["l1Hits", "l2Hits", "misses", "dbLoads", "fencedStores", "redisErrors", "redisTimeouts", "circuitOpens", "invalidationsQueued", "invalidationAckTimeouts", "unannouncedWrites", "abandonedWrites", "lockWaits", "lockWaitMs", "localLockWaits"]) totals[field] = (totals[field] ?? 0) + Number(stats[field] ?? 0);
    for (const [reason, count] of Object.entries(stats.bypasses)) totals[`bypass: ${reason}`] = (totals[`bypass: ${reason}`] ?? 0) + count;
  }
  if (process.env.CHAOS_ERRORS) for (const report of reports) console.log((report.stats as { absorbed: unknown }).absorbed);
  console.log(`\ncounters (all workers): ${Object.entries(totals).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  for (const report of reports) {
    for (const [name, phase] of Object.entries(report.phases)) {
      for (const sample of [...phase.failureSamples, ...phase.staleSamples]) console.log(`  ${name}: ${sample}`);
    }
  }
}

const ms = (value: number) => (value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`);

await main();
