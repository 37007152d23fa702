// What one measured window produced, and the summary of a system's rounds on one workload:
// medians of the per-round rates and latencies, totals for the counts.
import { quantile } from "../lib/measure.ts";
import type { CommandCounts } from "../lib/redis-commandstats.ts";
import type { SystemId } from "./systems.ts";
import type { WorkloadId } from "./workloads.ts";

export interface RoundResult {
  workload: WorkloadId;
  system: SystemId;
  round: number;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Median latency of the writes alone (NaN without writes). */
  writeP50Ms: number;
  statements: number;
  redis: CommandCounts;
  staleReads: number;
  wrongReads: number;
  errors: number;
  firstError: string | undefined;
}

export interface Summary {
  workload: WorkloadId;
  system: SystemId;
  rounds: number;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  writeP50Ms: number;
  statementsPer1k: number;
  redisPer1k: number;
  scriptsPer1k: number;
  /** Most frequent Redis commands over all rounds, "get 812, set 40". */
  topCommands: string;
  staleReads: number;
  wrongReads: number;
  errors: number;
  firstError: string | undefined;
}

/** Latency quantiles of one window, ms. */
export function latencyQuantiles(latencies: readonly number[]): { p50Ms: number; p99Ms: number } {
  const sorted = Float64Array.from(latencies).sort();
  return { p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99) };
}

export function summarize(rounds: readonly RoundResult[]): Summary {
  const first = rounds[0]!;
  const median = (pick: (r: RoundResult) => number) => quantile(Float64Array.from(rounds.map(pick)).sort(), 0.5);
  const sum = (pick: (r: RoundResult) => number) => rounds.reduce((total, r) => total + pick(r), 0);
  const ops = sum((r) => r.ops);
  const per1k = (count: number) => (ops === 0 ? NaN : (count / ops) * 1000);
  const commands: Record<string, number> = {};
  for (const r of rounds) for (const [name, calls] of Object.entries(r.redis.byName)) commands[name] = (commands[name] ?? 0) + calls;
  const topCommands = Object.entries(commands)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([name, calls]) => `${name} ${Math.round(per1k(calls)).toLocaleString("en-US")}`)
    .join(", ");
  return {
    workload: first.workload,
    system: first.system,
    rounds: rounds.length,
    ops,
    opsPerSec: median((r) => r.opsPerSec),
    p50Ms: median((r) => r.p50Ms),
    p99Ms: median((r) => r.p99Ms),
    writeP50Ms: median((r) => r.writeP50Ms),
    statementsPer1k: per1k(sum((r) => r.statements)),
    redisPer1k: per1k(sum((r) => r.redis.total)),
    scriptsPer1k: per1k(sum((r) => r.redis.scripts)),
    topCommands: topCommands || "none",
    staleReads: sum((r) => r.staleReads),
    wrongReads: sum((r) => r.wrongReads),
    errors: sum((r) => r.errors),
    firstError: rounds.find((r) => r.firstError !== undefined)?.firstError,
  };
}
