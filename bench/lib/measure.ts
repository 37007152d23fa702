// A small sampling harness: every sample is timed on its own with process.hrtime.bigint(), either
// one call per sample (slow operations: a database or network round trip) or a batch of calls
// per sample reported per call (sub-microsecond and microsecond operations, where the timer's
// own cost would otherwise dominate). Cases measured together are interleaved in rounds, so a
// drift of the machine (CPU frequency, another process, Redis latency) spreads over all of them
// instead of favouring whichever ran first.

/** BENCH_SCALE scales every sample count (e.g. 0.2 for a quick smoke run); invalid or ≤ 0 means 1. */
export const BENCH_SCALE = Number(process.env.BENCH_SCALE ?? 1) > 0 ? Number(process.env.BENCH_SCALE ?? 1) : 1;

/** `count` scaled by BENCH_SCALE, never below `min`. */
export function scaled(count: number, min = 20): number {
  return Math.max(min, Math.round(count * BENCH_SCALE));
}

export interface Case {
  name: string;
  /** "async" awaits every call; "sync" does not (the result goes to a sink so it is not optimised away). */
  kind: "sync" | "async";
  fn: () => unknown;
  /** Calls per timed sample. @default 1 */
  batch?: number;
  /** Timed samples. @default 1000 */
  samples?: number;
  /** Untimed calls before the first sample. @default max(100, samples * batch / 10) */
  warmup?: number;
}

export interface Stats {
  name: string;
  /** Timed samples and calls per sample. */
  samples: number;
  batch: number;
  /** Microseconds per call. */
  median: number;
  p90: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

export interface MeasureOptions {
  /** Interleaving rounds: each case takes samples/rounds samples per round. @default 10 */
  rounds?: number;
}

let sink: unknown;
/** Keeps the last result of a sync case alive so the call cannot be eliminated. */
export function consumeSink(): unknown {
  return sink;
}

/** Measures the cases, interleaved in rounds; returns their statistics in the same order. */
export async function measure(cases: readonly Case[], options: MeasureOptions = {}): Promise<Stats[]> {
  const rounds = Math.max(1, options.rounds ?? 10);
  const plans = cases.map((c) => {
    const batch = Math.max(1, c.batch ?? 1);
    const samples = Math.max(1, c.samples ?? 1000);
    return { c, batch, samples, warmup: c.warmup ?? Math.max(100, Math.ceil((samples * batch) / 10)), times: new Float64Array(samples), taken: 0 };
  });
  for (const plan of plans) await run(plan.c, plan.warmup);
  for (let round = 0; round < rounds; round++) {
    for (const plan of plans) {
      const until = round === rounds - 1 ? plan.samples : Math.round(((round + 1) * plan.samples) / rounds);
      plan.taken = await sample(plan.c, plan.batch, plan.times, plan.taken, until);
    }
  }
  return plans.map((plan) => summarize(plan.c.name, plan.times, plan.batch));
}

/** Measures one case on its own. */
export async function measureOne(c: Case): Promise<Stats> {
  const [stats] = await measure([c], { rounds: 1 });
  return stats!;
}

async function run(c: Case, calls: number): Promise<void> {
  const { fn } = c;
  if (c.kind === "async") for (let i = 0; i < calls; i++) await fn();
  else for (let i = 0; i < calls; i++) sink = fn();
}

async function sample(c: Case, batch: number, times: Float64Array, from: number, until: number): Promise<number> {
  const { fn } = c;
  if (c.kind === "async") {
    for (let s = from; s < until; s++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) await fn();
      times[s] = Number(process.hrtime.bigint() - t0) / 1000 / batch;
    }
  } else {
    let last: unknown;
    for (let s = from; s < until; s++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) last = fn();
      times[s] = Number(process.hrtime.bigint() - t0) / 1000 / batch;
    }
    sink = last;
  }
  return until;
}

/** Statistics of per-call times in microseconds. */
export function summarize(name: string, times: Float64Array | readonly number[], batch = 1): Stats {
  const sorted = Float64Array.from(times).sort();
  let total = 0;
  for (const t of sorted) total += t;
  return {
    name,
    samples: sorted.length,
    batch,
    median: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    mean: total / sorted.length,
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

/** Linear-interpolated quantile of an ascending array. */
export function quantile(sorted: Float64Array | readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** The cost of one process.hrtime.bigint() pair, in microseconds (median of many). */
export function timerOverhead(): number {
  const times = new Float64Array(10_000);
  for (let i = 0; i < times.length; i++) {
    const t0 = process.hrtime.bigint();
    times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return quantile(times.sort(), 0.5);
}
