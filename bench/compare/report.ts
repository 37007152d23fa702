// The output of bench:compare: tables on stderr/stdout, and docs/benchmarks.md with two SVG charts
// (docs/benchmarks-ops.svg, docs/benchmarks-p99.svg) generated from the same numbers.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { groupedBarChart } from "../lib/svg-chart.ts";
import { renderTable } from "../lib/table.ts";
import type { Summary } from "./results.ts";
import { SYSTEM_CONFIGS, SYSTEM_IDS, SYSTEM_LABELS, type SystemId } from "./systems.ts";
import { WORKLOAD_DESCRIPTIONS, WORKLOAD_LABELS, type WorkloadId } from "./workloads.ts";

export interface RunFacts {
  date: string;
  node: string;
  cpu: string;
  load: string;
  mode: string;
  plan: string;
  durationS: number;
}

const WORKLOADS: readonly WorkloadId[] = ["zipf", "mix", "herd", "absent"];
const COLORS: Record<SystemId, string> = { plain: "#9e9e9e", per: "#f4a261", perSuperjson: "#e76f51", shield: "#2a9d8f" };
const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));
const README = fileURLToPath(new URL("../../README.md", import.meta.url));
/** The README's headline table lives between these markers; the rest of the README is never touched. */
const README_START = "<!-- bench:compare headline: start -->";
const README_END = "<!-- bench:compare headline: end -->";

const HEADERS = ["system", "ops/s", "vs plain", "p50 ms", "p99 ms", "p99 vs plain", "write p50 ms", "DB stmts / 1k ops", "Redis cmds / 1k ops", "of which scripts", "stale reads", "wrong / errors"];

export async function writeReport(summaries: readonly Summary[], facts: RunFacts, write: boolean): Promise<void> {
  const find = (workload: WorkloadId, system: SystemId) => summaries.find((s) => s.workload === workload && s.system === system);
  const rowsOf = (workload: WorkloadId) => SYSTEM_IDS.map((system) => find(workload, system)).filter((s): s is Summary => s !== undefined);
  for (const workload of WORKLOADS) {
    if (rowsOf(workload).length === 0) continue;
    process.stdout.write(`\n${WORKLOAD_LABELS[workload]} — ${WORKLOAD_DESCRIPTIONS[workload]}\n`);
    process.stdout.write(renderTable(HEADERS.map((header) => ({ header })), rowsOf(workload).map((s) => cells(s, find(workload, "plain")))) + "\n");
    for (const s of rowsOf(workload)) process.stdout.write(`  Redis / 1k ops, ${SYSTEM_LABELS[s.system]}: ${s.topCommands}\n`);
  }
  if (!write) return;
  const charts = chartsOf(find);
  writeFileSync(`${DOCS}benchmarks-ops.svg`, charts.ops);
  writeFileSync(`${DOCS}benchmarks-p99.svg`, charts.p99);
  writeFileSync(`${DOCS}benchmarks.md`, markdown(facts, rowsOf, find));
  writeFileSync(`${DOCS}benchmarks.json`, JSON.stringify({ facts, summaries }, null, 1) + "\n");
  updateReadme(headline(facts, find));
  process.stdout.write(`\nwrote docs/benchmarks.md, docs/benchmarks-ops.svg, docs/benchmarks-p99.svg (${facts.durationS.toFixed(0)} s)\n`);
}

/** A note when other processes competed for the CPU during the run (load average above the core count). */
function loadWarning(facts: RunFacts): string[] {
  const load = Number(facts.load.split(" / ")[0]);
  const cores = Number(/× (\d+)$/.exec(facts.cpu)?.[1]);
  if (!(load > cores)) return [];
  return [`**Note:** the load average (${load}) exceeded the ${cores} cores during this run — other processes competed for the CPU, so rounds vary widely and absolute numbers are lower than on a quiet machine. Compare the systems within the run; rerun on a quiet machine for absolute figures.`, ""];
}

/** One line per workload (each system's ops/s and p99 relative to plain Prisma) and one for stale reads. */
function glance(find: Find): string[] {
  const lines = WORKLOADS.map((workload) => {
    const plain = find(workload, "plain");
    const parts = SYSTEM_IDS.filter((id) => id !== "plain").map((id) => {
      const s = find(workload, id);
      if (s === undefined || plain === undefined) return `${SYSTEM_LABELS[id]} –`;
      return `${SYSTEM_LABELS[id]} ${(s.opsPerSec / plain.opsPerSec).toFixed(2)}× (p99 ${(s.p99Ms / plain.p99Ms).toFixed(2)}×)`;
    });
    return `- **${WORKLOAD_LABELS[workload]}**, ops/s vs plain Prisma: ${parts.join("; ")}.`;
  });
  const stale = SYSTEM_IDS.map((id) => `${SYSTEM_LABELS[id]} ${WORKLOADS.reduce((total, w) => total + (find(w, id)?.staleReads ?? 0), 0)}`);
  lines.push(`- **Stale reads** over all workloads: ${stale.join(", ")}.`);
  return lines;
}

/** One row per system: the numbers a reader compares first, all workloads side by side. */
function headline(facts: RunFacts, find: Find): string {
  const headers = ["system", "zipf 95/5 ops/s", "zipf p99 ms", "30 % writes ops/s", "herd: DB queries / 1 000 cold reads", "absent keys ops/s", "stale reads"];
  const x = (workload: WorkloadId, s: Summary | undefined) => {
    const plain = find(workload, "plain");
    if (s === undefined) return "–";
    const ratio = s.system === "plain" || plain === undefined ? "" : ` (${(s.opsPerSec / plain.opsPerSec).toFixed(1)}×)`;
    return `${Math.round(s.opsPerSec).toLocaleString("en-US")}${ratio}`;
  };
  const rows = SYSTEM_IDS.map((id) => {
    const stale = WORKLOADS.reduce((total, w) => total + (find(w, id)?.staleReads ?? 0), 0);
    const herd = find("herd", id);
    return [SYSTEM_LABELS[id], x("zipf", find("zipf", id)), ms(find("zipf", id)?.p99Ms ?? NaN), x("mix", find("mix", id)), herd ? per1k(herd.statementsPer1k) : "–", x("absent", find("absent", id)), `${stale}`];
  });
  return [
    README_START,
    `Measured ${facts.date.slice(0, 10)} on ${facts.cpu}, Node ${facts.node} (${facts.mode} run, load average ${facts.load.split(" / ")[0]}${loadWarning(facts).length > 0 ? ": a loaded machine, so absolute numbers are low and noisy" : ""}); medians of interleaved rounds, ratios vs plain Prisma. Details, DB statements and Redis commands per operation: [docs/benchmarks.md](docs/benchmarks.md).`,
    "",
    mdTable(headers, rows),
    "",
    "![Throughput per workload](docs/benchmarks-ops.svg)",
    README_END,
  ].join("\n");
}

function updateReadme(section: string): void {
  const readme = readFileSync(README, "utf8");
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) {
    process.stderr.write(`README.md has no ${README_START} … ${README_END} section: headline not written\n`);
    return;
  }
  writeFileSync(README, readme.slice(0, start) + section + readme.slice(end + README_END.length));
}

/** Renders docs/benchmarks.{md,svg} and the README headline again from docs/benchmarks.json (no measuring). */
export async function rerenderReport(): Promise<void> {
  const saved = JSON.parse(readFileSync(`${DOCS}benchmarks.json`, "utf8"), (_, value: unknown) => (value === null ? NaN : value)) as { facts: RunFacts; summaries: Summary[] };
  await writeReport(saved.summaries, saved.facts, true);
}

function cells(s: Summary, plain: Summary | undefined): string[] {
  const ratio = (value: number, base: number | undefined) => (base === undefined || !Number.isFinite(base) || base <= 0 ? "–" : `${(value / base).toFixed(2)}×`);
  return [
    SYSTEM_LABELS[s.system],
    Math.round(s.opsPerSec).toLocaleString("en-US"),
    s.system === "plain" ? "1.00×" : ratio(s.opsPerSec, plain?.opsPerSec),
    ms(s.p50Ms),
    ms(s.p99Ms),
    s.system === "plain" ? "1.00×" : ratio(s.p99Ms, plain?.p99Ms),
    Number.isFinite(s.writeP50Ms) ? ms(s.writeP50Ms) : "–",
    per1k(s.statementsPer1k),
    per1k(s.redisPer1k),
    per1k(s.scriptsPer1k),
    `${s.staleReads}`,
    `${s.wrongReads} / ${s.errors}`,
  ];
}

function ms(value: number): string {
  return value >= 10 ? value.toFixed(1) : value >= 1 ? value.toFixed(2) : value.toFixed(3);
}

function per1k(value: number): string {
  return Number.isFinite(value) ? (value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(1)) : "–";
}

function mdTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

type Find = (workload: WorkloadId, system: SystemId) => Summary | undefined;

function chartsOf(find: Find): { ops: string; p99: string } {
  const series = SYSTEM_IDS.map((id) => ({ name: SYSTEM_LABELS[id], color: COLORS[id] }));
  const groups = WORKLOADS.map((w) => WORKLOAD_LABELS[w]);
  const values = (pick: (s: Summary) => number) => WORKLOADS.map((w) => SYSTEM_IDS.map((id) => { const s = find(w, id); return s ? pick(s) : NaN; }));
  return {
    ops: groupedBarChart({ title: "Throughput per workload (higher is better)", unit: "operations per second", groups, series, values: values((s) => s.opsPerSec), log: true, format: compact }),
    p99: groupedBarChart({ title: "p99 latency per workload (lower is better)", unit: "p99 latency, ms", groups, series, values: values((s) => s.p99Ms), log: true, format: (v) => (v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2)) }),
  };
}

function compact(value: number): string {
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(1)}M`;
  if (value >= 10_000) return `${Math.round(value / 1000)}k`;
  if (value >= 1_000) return `${(value / 1000).toFixed(1)}k`;
  return value.toFixed(value >= 10 ? 0 : 1);
}

function markdown(facts: RunFacts, rowsOf: (w: WorkloadId) => Summary[], find: Find): string {
  const out: string[] = [
    "# Benchmarks against the peers",
    "",
    "<!-- Generated by `npm run bench:compare` (bench/compare.ts); rerun it instead of editing this file. -->",
    "",
    `Measured ${facts.date} on ${facts.cpu}, Node ${facts.node}, load average ${facts.load} (1/5/15 min) — ${facts.mode} run, ${facts.plan}; the run took ${facts.durationS.toFixed(0)} s.`,
    "",
    "Reproduce with `npm run bench:compare` (full, about 4 minutes) or `npm run bench:compare -- --quick` (about 1½ minutes). It needs PostgreSQL (`DATABASE_URL`, an admin connection; default `postgresql://postgres@127.0.0.1:5432/postgres`) and `redis-server` on the PATH: it creates a scratch database and starts a private Redis, and removes both.",
    "",
    ...loadWarning(facts),
    "## At a glance",
    "",
    ...glance(find),
    "",
    "![Throughput per workload](benchmarks-ops.svg)",
    "",
    "![p99 latency per workload](benchmarks-p99.svg)",
    "",
  ];
  for (const workload of WORKLOADS) {
    out.push(`## ${WORKLOAD_LABELS[workload]}`, "", `${WORKLOAD_DESCRIPTIONS[workload]}.`, "");
    out.push(mdTable(HEADERS, rowsOf(workload).map((s) => cells(s, find(workload, "plain")))), "");
    out.push("Redis commands per 1 000 operations, most frequent first:", "");
    for (const s of rowsOf(workload)) if (s.system !== "plain") out.push(`- ${SYSTEM_LABELS[s.system]}: ${s.topCommands}`);
    const failing = rowsOf(workload).filter((s) => s.firstError !== undefined);
    for (const s of failing) out.push(`- ${SYSTEM_LABELS[s.system]}: first error: \`${s.firstError}\``);
    out.push("");
  }
  out.push("## The systems", "");
  for (const id of SYSTEM_IDS) out.push(`- **${SYSTEM_LABELS[id]}**: ${SYSTEM_CONFIGS[id]}`);
  out.push("", "## How it is measured", "", ...METHOD, "");
  return out.join("\n");
}

const METHOD = [
  "- One PostgreSQL database (a scratch database of the run) and one private `redis-server` for all systems; each system has its own PrismaClient with a pool of 10 connections and its own Redis connection, to its own logical Redis database (so one system's keys never lengthen another's `SCAN`). Each system reads and writes its own block of rows with identical contents (100 authors; 10 000 posts + 100 cold posts per system), so a write by one system never leaves another's cache stale.",
  "- Rounds are interleaved: every round runs every system once, in an order that rotates from round to round. Ops/s, p50 and p99 are the **medians of the rounds**; counts (DB statements, Redis commands, stale reads) are totals over all rounds per 1 000 operations. The timed workloads (zipf, 30 % writes) are closed loops of 64 concurrent callers: an unmeasured warm-up, then a measured window; the caches stay warm from round to round, as they would in a service.",
  "- **DB statements**: every statement sent through the system's pg pool, counted by the pool's connections (transactions' BEGIN/COMMIT included). Prisma merges `findUnique` calls made in the same tick into one SQL query, which is why plain Prisma sends fewer than one statement per read under concurrency.",
  "- **Redis commands**: `INFO commandstats` of the private server, reset before each measured window and read after it (plus 50 ms for fills that land after their read returned). Redis counts the commands a Lua script runs like any other command, so a script call counts 1 + the commands inside it; *of which scripts* counts the EVAL/EVALSHA calls, one round trip each.",
  "- **Stale reads**: every write increments the row's `version` column and records the version it returned once it resolved; every read notes the highest completed version of its row when it starts and is stale if it returns a lower one. *wrong* counts reads that returned a row for an absent id, nothing for an existing one, or (herd) a row other than the one in the database.",
  "- **Cold-key herd**: 4 worker processes (each with its own client of every system) are started after the in-process workloads, so their instances do not take part in the writes above. Each round reads a row no system has read before; ops/s there is the reads divided by the time until the last answer, from the common release moment.",
  "- Plain Prisma's Redis commands are not its own: they are the background traffic of the idle cache systems during its windows (instance heartbeats and statistics), the noise floor of the counts.",
  "- The machine is shared (other processes run during the benchmark): compare the systems with one another within this run rather than the absolute numbers with another machine's.",
];
