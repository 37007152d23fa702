// Prints the runs side by side, the first being the baseline that "statements saved" refers to,
// then the arithmetic that links the numbers, so every figure can be checked against the others.
import type { CacheStats } from "../../src/index.ts";
import { mean, percentile, type RunResult } from "./traffic.ts";

export type CacheCounts = Pick<CacheStats, "hits" | "misses" | "l1Hits" | "l2Hits" | "coalesced" | "dbLoads">;

export interface Measured {
  title: string;
  run: RunResult;
  /** Statements the pg pool sent to the database during the run. */
  dbQueries: number;
  /** What the cache counted during the run; absent for the uncached client. */
  cache?: CacheCounts;
}

export function printReport(runs: [Measured, ...Measured[]]): void {
  const baseline = runs[0].dbQueries;
  const row = (label: string, cell: (m: Measured) => string) => [label, ...runs.map(cell)];
  const cached = (cell: (c: CacheCounts) => string) => (m: Measured) => (m.cache ? cell(m.cache) : "-");
  printTable([
    ["", ...runs.map((m) => m.title)],
    row("requests", (m) => count(m.run.requests)),
    row("cache hits (L1 / L2)", cached((c) => `${count(c.hits)} (${count(c.l1Hits)} / ${count(c.l2Hits)})`)),
    row("cache misses", cached((c) => count(c.misses))),
    row("  coalesced [1]", cached((c) => count(c.coalesced))),
    row("DB loads [2]", (m) => (m.cache ? count(m.cache.dbLoads) : count(m.run.requests))),
    row("SQL statements [3]", (m) => count(m.dbQueries)),
    row("statements saved", (m) => (m.cache ? `${count(baseline - m.dbQueries)} (${percent((baseline - m.dbQueries) / baseline)})` : "-")),
    row("hit rate", cached((c) => percent(c.hits / (c.hits + c.misses)))),
    row("wall time", (m) => seconds(m.run.wallMs)),
    row("throughput", (m) => `${count(Math.round(m.run.requests / (m.run.wallMs / 1000)))} req/s`),
    row("wall time / request", (m) => ms(m.run.wallMs / m.run.requests)),
    row("latency p50 [4]", (m) => ms(percentile(m.run.latencies, 50))),
    row("latency p99", (m) => ms(percentile(m.run.latencies, 99))),
    row("latency mean", (m) => ms(mean(m.run.latencies))),
  ]);
  console.log("");
  console.log("[1] reads that shared another read's lookup of the same key (one Redis lookup, and one load if it missed): misses and L2 hits alike.");
  console.log("[2] reads that ran the query: every request without the cache; with it, the misses that did not coalesce.");
  console.log("[3] what the pg pool sent. Prisma merges findUnique calls made in the same tick into one statement,");
  console.log("    so statements can be fewer than loads:");
  for (const m of runs) console.log(`      ${m.title}: ${explain(m)}`);
  console.log("[4] time from a worker's call until that worker runs again. The 20 workers share one event loop, so a");
  console.log("    request's latency includes the other workers' work in between. When every request is an L1 hit, every");
  console.log("    worker is always ready and each request waits behind hits of the others; when most workers wait for");
  console.log("    the database, a hit resumes almost at once. So a lower p50 in a cold run is not a faster cache:");
  for (const m of runs) {
    const perRequest = m.run.wallMs / m.run.requests;
    console.log(`      ${m.title}: p50 ${ms(percentile(m.run.latencies, 50))} = ${(percentile(m.run.latencies, 50) / perRequest).toPrecision(2)} × wall time / request (${ms(perRequest)}, the cost per request)`);
  }
}

/** The arithmetic of one run: misses → loads → statements. */
function explain(m: Measured): string {
  const merged = (loads: number) => (loads === m.dbQueries ? "no merging" : `${count(loads - m.dbQueries)} merged by Prisma`);
  if (m.cache === undefined) return `${count(m.run.requests)} loads → ${count(m.dbQueries)} statements (${merged(m.run.requests)})`;
  const { misses, coalesced, dbLoads } = m.cache;
  // Coalesced reads that shared a Redis lookup are hits, not misses: they are the difference.
  const onLoads = misses - dbLoads;
  const onRedis = coalesced - onLoads;
  const split = `${count(misses)} misses = ${count(dbLoads)} loads + ${count(onLoads)} coalesced onto a load${onRedis > 0 ? ` (${count(onRedis)} more reads coalesced onto a Redis lookup: L2 hits)` : ""}`;
  return `${split}; ${count(dbLoads)} loads → ${count(m.dbQueries)} statements (${merged(dbLoads)})`;
}

/** Aligned text rather than console.table, whose index column and quoting get in the way. */
function printTable([header, ...rows]: string[][]): void {
  const all = [header!, ...rows];
  const widths = header!.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("   ");
  console.log(line(header!));
  console.log(widths.map((width) => "-".repeat(width)).join("   "));
  for (const row of rows) console.log(line(row));
}

const count = (n: number) => n.toLocaleString("en-US");
const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;
const seconds = (milliseconds: number) => `${(milliseconds / 1000).toFixed(2)} s`;
const ms = (milliseconds: number) => `${milliseconds.toFixed(milliseconds < 1 ? 3 : 2)} ms`;
