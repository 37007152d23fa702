// Prints the runs side by side, the first being the baseline that "DB queries saved" refers to.
import type { CacheStats } from "../../src/index.ts";
import { mean, percentile, type RunResult } from "./traffic.ts";

export type CacheCounts = Pick<CacheStats, "hits" | "misses" | "l1Hits" | "l2Hits" | "coalesced">;

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
    row("DB queries", (m) => count(m.dbQueries)),
    row("DB queries saved", (m) => (m.cache ? `${count(baseline - m.dbQueries)} (${percent((baseline - m.dbQueries) / baseline)})` : "-")),
    row("cache hits (L1 / L2)", cached((c) => `${count(c.hits)} (${count(c.l1Hits)} / ${count(c.l2Hits)})`)),
    row("cache misses", cached((c) => count(c.misses))),
    row("  of which coalesced", cached((c) => count(c.coalesced))),
    row("hit rate", cached((c) => percent(c.hits / (c.hits + c.misses)))),
    row("wall time", (m) => seconds(m.run.wallMs)),
    row("throughput", (m) => `${count(Math.round(m.run.requests / (m.run.wallMs / 1000)))} req/s`),
    row("latency p50", (m) => ms(percentile(m.run.latencies, 50))),
    row("latency p99", (m) => ms(percentile(m.run.latencies, 99))),
    row("latency mean", (m) => ms(mean(m.run.latencies))),
  ]);
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
