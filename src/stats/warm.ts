import { isThenable } from "../core/thenable.js";
import { settleWithin } from "../core/settle-within.js";
import { CacheArgumentError, CacheError, CacheStoreError, plainMessage, shownValue } from "../errors.js";
import { newServedBy, type ServedBy } from "../core/served-by.js";
import type { Clock } from "../types.js";
import type { CacheHints, RecordedQuery } from "./query-stats.js";

export interface WarmOptions {
  /** How many of the most valuable recorded queries (popularity × load time) to replay. @default 100 */
  top?: number | undefined;
  /** Replays in flight at once. @default 4 */
  concurrency?: number | undefined;
  /**
   * Milliseconds a replay may take before it counts as failed (`E_WARM_TIMEOUT`) and warm() goes
   * on: a database that accepts connections and never answers would keep warm() — and a deploy
   * waiting for it — forever (the query itself cannot be cancelled and settles in the background). @default 60000
   */
  replayTimeout?: number | undefined;
  /** Called after each query is warmed, failed or skipped. An exception it throws is reported, not raised. */
  onProgress?: ((progress: WarmProgress) => void) | undefined;
}

export interface WarmProgress {
  /** Queries warm() will go through (at most `top`). */
  total: number;
  /** Queries settled so far: warmed + failed + skipped. */
  done: number;
  warmed: number;
  failed: number;
  skipped: number;
}

export interface WarmResult {
  /** Queries now in the cache: loaded, or found in Redis or L1. */
  warmed: number;
  /** Queries whose load failed (a database error, a query the database refuses); an *OrThrow read whose record is gone is warmed: its absence is cached. */
  failed: number;
  /** Why loads failed: the error's code and first line, counted (each error also went to `onError`). */
  failedBy: Record<string, number>;
  /** Queries not replayed, counted by reason in `skippedBy`. */
  skipped: number;
  total: number;
  /** Why queries were skipped: `model not cached`, `schema changed`, `unreadable`, `unknown operation`, the cache option that no longer fits, or `answered by the Bloom guard` (replayed: the record never existed, nothing to cache). */
  skippedBy: Record<string, number>;
  durationMs: number;
}

/** What warm() hooks receive: the Bloom guard builds its filters here. */
export interface WarmContext {
  /** The cached models. */
  models: readonly string[];
}

/** Runs before warm() replays anything; warm() waits for it. A failure is reported, and warm() goes on. */
export type BeforeWarmHook = (context: WarmContext) => void | Promise<void>;
/** Runs after the replays, with their result. A failure is reported, and warm() still resolves. */
export type AfterWarmHook = (context: WarmContext & { result: WarmResult }) => void | Promise<void>;

/** Extension points around warm(), for other parts of the cache (the Bloom guard) to plug into. */
export interface WarmHooks {
  beforeWarm: BeforeWarmHook[];
  afterWarm: AfterWarmHook[];
}

/** What decides whether a recorded query can still be replayed. */
export interface ReplayRules {
  fingerprint: string;
  /** The cached models. */
  models: readonly string[];
  /** The operations the cache serves. */
  operations: ReadonlySet<string>;
  /** Why a recorded cache option can no longer be honoured (undefined when it can). */
  checkCacheOption(model: string, cache: CacheHints): string | undefined;
}

/** How warm() reaches the cache: the runtime supplies these. */
export interface WarmTarget extends ReplayRules {
  /** The `top` queries to go through. */
  queries(top: number): Promise<RecordedQuery[]>;
  /** Resolves when loads can fill L1 (the invalidation subscription is live); warm() waits for it. */
  ready(): Promise<unknown>;
  /** Replays one query through the normal read path (fleet lock included), noting in `served` where it was answered; rejects as the read would. */
  replay(query: RecordedQuery, served: ServedBy): PromiseLike<unknown>;
  hooks: WarmHooks;
  clock: Clock;
  report(error: CacheError): void;
}

export const WARM_DEFAULTS = { top: 100, concurrency: 4, replayTimeout: 60_000 } as const;

/** The skip reason of every query warm() was asked for when the statistics could not be read. */
export const REDIS_UNAVAILABLE = "redis unavailable";
/** A replay the Bloom guard answered: the record never existed, and nothing was cached. */
export const ANSWERED_BY_GUARD = "answered by the Bloom guard";

/**
 * Replays the most valuable recorded queries so that a fresh instance serves them from L1 (and
 * the fleet from Redis) from its first request. Replays go through the read path: one loader per
 * query across instances warming at once, jittered TTLs as for any load.
 */
export async function warm(target: WarmTarget, options: WarmOptions = {}): Promise<WarmResult> {
  const { top, concurrency, replayTimeout, onProgress } = checkWarmOptions(options);
  const started = target.clock.now();
  const context: WarmContext = { models: target.models };
  // The hooks (the Bloom guard's build, which waits up to 20 × redisTimeout for Redis) run beside
  // the statistics' read: with Redis unreachable there is nothing to replay, and warm() resolves
  // at once, as documented, while they go on (outside probe 128: 5.3 s instead of 0.3 s).
  const before = runHooks(target.hooks.beforeWarm, context, target.report);
  let recorded: RecordedQuery[];
  try {
    [recorded] = await Promise.all([readRecordedQueries(target.queries, top * CANDIDATES_PER_QUERY), target.ready()]);
    await before;
  } catch (error) {
    if (!(error instanceof CacheStoreError)) throw error;
    // No statistics to replay while Redis is unreachable: say so, and let the service start.
    target.report(error);
    const result: WarmResult = { warmed: 0, failed: 0, failedBy: {}, skipped: top, total: top, skippedBy: { [REDIS_UNAVAILABLE]: top }, durationMs: target.clock.now() - started };
    await runHooks(target.hooks.afterWarm, { ...context, result }, target.report);
    return result;
  }
  // The `top` most valuable queries it can replay, and those ranked above them it cannot (after a
  // schema change the old schema's queries rank first for hours: they must not take the budget).
  const queries: RecordedQuery[] = [];
  let replayable = 0;
  for (const query of recorded) {
    if (replayable === top) break;
    queries.push(query);
    if (whySkipped(target, query) === undefined) replayable++;
  }
  const progress: WarmProgress = { total: queries.length, done: 0, warmed: 0, failed: 0, skipped: 0 };
  const skippedBy: Record<string, number> = {};
  const failedBy: Record<string, number> = {};
  const settle = (outcome: "warmed" | "failed" | "skipped") => {
    progress[outcome]++;
    progress.done++;
    const failed = (error: unknown) => target.report(new CacheError("E_WARM_PROGRESS", `warm() onProgress threw: ${String((error as Error)?.message ?? error)}`, { cause: error }));
    try {
      const returned: unknown = onProgress?.({ ...progress });
      // An async onProgress that rejects is reported the same, not left to crash the process (outside probe 283).
      if (isThenable(returned)) returned.then(undefined, failed);
    } catch (error) {
      failed(error);
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < queries.length) {
      const query = queries[next++]!;
      const reason = whySkipped(target, query);
      if (reason !== undefined) {
        skippedBy[reason] = (skippedBy[reason] ?? 0) + 1;
        settle("skipped");
        continue;
      }
      // A lookup the Bloom guard answers "never existed" caches nothing (outside probe 221: counted
      // warmed, so warm({ top: 5 }) said 5 with 4 entries filled).
      const served = newServedBy();
      const skipIfGuarded = () => {
        if (served.tier !== "bloom") return false;
        skippedBy[ANSWERED_BY_GUARD] = (skippedBy[ANSWERED_BY_GUARD] ?? 0) + 1;
        settle("skipped");
        return true;
      };
      try {
        await withinReplayTimeout(target.replay(query, served), replayTimeout);
        if (!skipIfGuarded()) settle("warmed");
      } catch (error) {
        if (skipIfGuarded()) continue;
        // The record is gone: its absence is what the read answers now, and is cached as such
        // (outside probe 158: counted failed, it made the CLI's `warm` exit 1 on a healthy database).
        if (readsAbsentRecord(query, error)) {
          settle("warmed");
          continue;
        }
        target.report(new CacheError("E_WARM_FAILED", `warm(): ${query.model}.${query.operation} failed: ${String((error as Error)?.message ?? error)}`, { cause: error }));
        const reason = failureReason(error);
        failedBy[reason] = (failedBy[reason] ?? 0) + 1;
        settle("failed");
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queries.length) }, worker));
  const result: WarmResult = { warmed: progress.warmed, failed: progress.failed, failedBy, skipped: progress.skipped, total: progress.total, skippedBy, durationMs: target.clock.now() - started };
  await runHooks(target.hooks.afterWarm, { ...context, result }, target.report);
  return result;
}

/** `replay`'s outcome, or an `E_WARM_TIMEOUT` error once it took `timeoutMs` (outside probe 175: a black-holed database kept the CLI's `warm` up for good). */
async function withinReplayTimeout(replay: PromiseLike<unknown>, timeoutMs: number): Promise<unknown> {
  const settling = Promise.resolve(replay);
  if (!(await settleWithin(settling, timeoutMs))) throw new CacheError("E_WARM_TIMEOUT", `the replay did not settle within replayTimeout (${timeoutMs} ms)`);
  return settling;
}

/** An `*OrThrow` read whose record does not exist: Prisma's P2025. */
function readsAbsentRecord(query: RecordedQuery, error: unknown): boolean {
  return query.operation.endsWith("OrThrow") && (error as { code?: unknown } | null)?.code === "P2025";
}

/** A failed replay's reason, as `failedBy` counts it: the error's code (Prisma's, or this library's) and the last non-empty line of its message (Prisma's first lines name the call site). */
function failureReason(error: unknown): string {
  const code = (error as { code?: unknown; errorCode?: unknown } | null)?.code ?? (error as { errorCode?: unknown } | null)?.errorCode;
  const lines = plainMessage(error).split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const text = (lines.at(-1) ?? "").slice(0, MAX_REASON_LENGTH);
  return typeof code === "string" ? `${code}: ${text}` : text;
}

const MAX_REASON_LENGTH = 200;

/** Recorded queries read per query asked for: candidates for those skipped (another schema, a model no longer cached). */
const CANDIDATES_PER_QUERY = 4;
/** Attempts at reading the statistics: a process starting under load may miss one `redisTimeout`. */
const READ_ATTEMPTS = 3;

/** The `limit` most valuable recorded queries, read again after a Redis failure up to READ_ATTEMPTS times (warm() and topQueries()). */
export function readRecordedQueries(queries: (limit: number) => Promise<RecordedQuery[]>, limit: number): Promise<RecordedQuery[]> {
  return withReadAttempts(() => queries(limit));
}

/** `read`, run again after a Redis failure up to READ_ATTEMPTS times in all (the statistics' reads: warm(), topQueries(), fleetStats()). */
export async function withReadAttempts<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof CacheStoreError) || attempt === READ_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/** Why warm() would skip a recorded query, or undefined if it would replay it. */
export function whySkipped(rules: ReplayRules, query: RecordedQuery): string | undefined {
  if (!query.readable) return "unreadable";
  if (query.fingerprint !== rules.fingerprint) return "schema changed";
  if (!rules.models.includes(query.model)) return "model not cached";
  if (!rules.operations.has(query.operation)) return "unknown operation";
  return query.cache === undefined ? undefined : rules.checkCacheOption(query.model, query.cache);
}

async function runHooks<C>(hooks: ReadonlyArray<(context: C) => void | Promise<void>>, context: C, report: (error: CacheError) => void): Promise<void> {
  for (const hook of hooks) {
    try {
      await hook(context);
    } catch (error) {
      report(error instanceof CacheError ? error : new CacheError("E_WARM_HOOK", `a warm() hook failed: ${String((error as Error)?.message ?? error)}`, { cause: error }));
    }
  }
}

/** Validates warm()'s options; throws CacheArgumentError naming the one at fault. */
export function checkWarmOptions(options: unknown): { top: number; concurrency: number; replayTimeout: number; onProgress: WarmOptions["onProgress"] } {
  if (options === undefined) return { ...WARM_DEFAULTS, onProgress: undefined };
  if (typeof options !== "object" || options === null) throw new CacheArgumentError("options", "expected { top?, concurrency?, replayTimeout?, onProgress? }");
  const { top, concurrency, replayTimeout, onProgress, ...rest } = options as WarmOptions;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new CacheArgumentError(unknown, "unknown option (expected one of: top, concurrency, replayTimeout, onProgress)");
  if (onProgress !== undefined && typeof onProgress !== "function") throw new CacheArgumentError("onProgress", "expected a function");
  const timeout = positiveInteger(replayTimeout, "replayTimeout", WARM_DEFAULTS.replayTimeout);
  // setTimeout fires at once beyond 2^31 - 1 ms.
  if (timeout > MAX_TIMER_MS) throw new CacheArgumentError("replayTimeout", `expected at most ${MAX_TIMER_MS} ms, got ${timeout}`);
  return { top: positiveInteger(top, "top", WARM_DEFAULTS.top), concurrency: positiveInteger(concurrency, "concurrency", WARM_DEFAULTS.concurrency), replayTimeout: timeout, onProgress };
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) throw new CacheArgumentError(name, `expected a positive integer, got ${shownValue(value)}`);
  return value;
}
