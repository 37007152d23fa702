// The messages bench/herd.ts and its workers (bench/herd-worker.ts) exchange over the Node IPC
// channel. Data only: the herd itself is synchronised through Redis, not through these messages.

/** The three configurations the herd runs against. */
export type HerdConfig = "none" | "local" | "fleet";

/** Parent → worker. */
export type HerdCommand =
  | {
      type: "round";
      round: number;
      config: HerdConfig;
      /** Cache namespace of this round (fresh, so the key is cold); the barrier key lives under it too. */
      namespace: string;
      authorId: number;
      /** The id findFirst must return, so a wrong answer is not counted as a fast one. */
      expectedPostId: number;
    }
  | { type: "exit" };

/** What one worker saw in one round. */
export interface HerdReport {
  worker: number;
  round: number;
  config: HerdConfig;
  /** Statements this process sent to PostgreSQL between the barrier release and the last answer. */
  queries: number;
  /** Reads that returned the expected post. */
  correct: number;
  /** Milliseconds from this worker's barrier release to each read's answer, one per read. */
  latencies: number[];
  /** Wall-clock time (ms since the epoch, sub-ms precision) at which this worker saw the barrier open. */
  releasedAt: number;
  /**
   * Fleet configuration: wall-clock time (as releasedAt) at which this process received the
   * loader's "landed" wake-up on a pattern subscription of its own; null if it never came.
   */
  landedAt: number | null;
  /** Milliseconds from the release until all reads had been started (one synchronous loop). */
  issueMs: number;
  /** The longest event-loop stall during the herd, ms (1 ms resolution). */
  loopDelayMaxMs: number;
  /** The extension's counters for the round (all zero in the "none" configuration). */
  dbLoads: number;
  coalesced: number;
  lockAcquisitions: number;
  lockWaits: number;
  lockWaitMs: number;
  l2Hits: number;
  redisErrors: number;
  redisTimeouts: number;
  bypasses: Record<string, number>;
}

/** Worker → parent. */
export type WorkerMessage =
  | { type: "ready"; worker: number; startupMs: number }
  | { type: "report"; report: HerdReport }
  | { type: "error"; worker: number; message: string };
