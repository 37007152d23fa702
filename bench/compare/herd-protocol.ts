// Messages between bench/compare/herd.ts and its workers (bench/compare/herd-worker.ts).
import type { SystemId } from "./systems.ts";

export type HerdWorkerCommand =
  | { type: "round"; system: SystemId; id: number; expectedVersion: number; reads: number; startAt: number }
  | { type: "exit" };

export interface HerdWorkerReport {
  worker: number;
  /** Milliseconds from the common start to each read's answer. */
  latencies: number[];
  statements: number;
  wrongReads: number;
  errors: number;
  firstError: string | undefined;
}

export type HerdWorkerMessage = { type: "ready" } | { type: "report"; report: HerdWorkerReport } | { type: "error"; message: string };
