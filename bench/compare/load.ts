// A closed-loop load generator: `concurrency` workers, each issuing its next operation as soon as
// the previous one answered, for a fixed time or a fixed number of operations. Every read is
// checked against the last completed write of its row (see VersionFloor).
import type { SystemClient } from "./systems.ts";

/** One operation: read or bump the version of the row `id`; `expectAbsent` reads must return null. */
export interface Operation {
  kind: "read" | "write";
  id: number;
  expectAbsent?: boolean;
}

/**
 * The version of every row's last completed write. A read that starts after a write of version v
 * resolved must return version ≥ v; anything lower is a stale read.
 */
export class VersionFloor {
  readonly #floor = new Map<number, number>();

  get(id: number): number {
    return this.#floor.get(id) ?? 0;
  }

  completed(id: number, version: number): void {
    if (version > this.get(id)) this.#floor.set(id, version);
  }
}

export interface LoadOptions {
  concurrency: number;
  /** Stop issuing after this long (ms)… */
  durationMs?: number;
  /** …or after this many operations. */
  totalOps?: number;
  next: () => Operation;
  floor: VersionFloor;
}

export interface LoadResult {
  ops: number;
  reads: number;
  writes: number;
  wallMs: number;
  /** Per-operation latency, ms. */
  latencies: number[];
  /** The writes' latencies alone, ms. */
  writeLatencies: number[];
  staleReads: number;
  /** Absent-key reads that returned a row, present-key reads that returned null. */
  wrongReads: number;
  errors: number;
  firstError: string | undefined;
  statements: number;
}

/** Runs the load against one system and returns what it measured. */
export async function runLoad(system: SystemClient, options: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { ops: 0, reads: 0, writes: 0, wallMs: 0, latencies: [], writeLatencies: [], staleReads: 0, wrongReads: 0, errors: 0, firstError: undefined, statements: 0 };
  const statementsBefore = system.statements.statements;
  const started = performance.now();
  const deadline = options.durationMs === undefined ? Infinity : started + options.durationMs;
  let issued = 0;
  const more = () => performance.now() < deadline && (options.totalOps === undefined || issued < options.totalOps);
  const worker = async () => {
    while (more()) {
      issued++;
      await runOne(system, options.next(), options.floor, result);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  result.wallMs = performance.now() - started;
  result.statements = system.statements.statements - statementsBefore;
  return result;
}

async function runOne(system: SystemClient, op: Operation, floor: VersionFloor, result: LoadResult): Promise<void> {
  const minimum = floor.get(op.id);
  const t0 = performance.now();
  try {
    if (op.kind === "write") {
      const row = await system.bumpPost(op.id);
      floor.completed(op.id, row.version);
      result.writes++;
      result.writeLatencies.push(performance.now() - t0);
    } else {
      const row = await system.findPost(op.id);
      if (op.expectAbsent ? row !== null : row === null) result.wrongReads++;
      else if (row !== null && row.version < minimum) result.staleReads++;
      result.reads++;
    }
    result.latencies.push(performance.now() - t0);
    result.ops++;
  } catch (error) {
    result.errors++;
    result.firstError ??= String((error as Error)?.message ?? error).slice(0, 300);
  }
}
