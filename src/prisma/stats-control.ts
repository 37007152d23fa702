import { CacheArgumentError, CacheError, CacheStoreError, shownValue } from "../errors.js";
import type { ServedBy } from "../core/served-by.js";
import type { ResolvedOptions } from "../options.js";
import type { Counters } from "../stats/counters.js";
import type { CacheStats } from "../types.js";
import type { FleetStats } from "../stats/fleet-snapshots.js";
import type { Observability } from "../stats/observability.js";
import type { CacheHints, RecordedQuery } from "../stats/query-stats.js";
import { tracing, type TraceContext } from "../stats/telemetry.js";
import { readRecordedQueries, warm, withReadAttempts, whySkipped, type ReplayRules, type WarmHooks, type WarmOptions, type WarmResult } from "../stats/warm.js";

/** A recorded query as `$cache.topQueries()` lists it. */
export interface TopQuery extends RecordedQuery {
  /** Why warm() would skip it (`schema changed`, `model not cached`, …), or undefined if it would replay it. */
  skipReason: string | undefined;
}

export interface TopQueriesOptions<ModelName extends string = string> {
  /** @default 20 */
  limit?: number | undefined;
  /** Only this model's queries. */
  model?: ModelName | undefined;
}

/** The read operations the extension caches: the only ones warm() replays. */
export const CACHED_READS: ReadonlySet<string> = new Set(["findUnique", "findUniqueOrThrow", "findFirst", "findFirstOrThrow", "findMany", "count", "aggregate", "groupBy"]);

export interface StatsControlParts {
  options: ResolvedOptions;
  fingerprint: string;
  counters: Counters;
  observability: Observability;
  hooks: WarmHooks;
  /** Throws CacheArgumentError when a recorded per-query cache option is not valid. */
  checkLifetime(model: string, cache: CacheHints): void;
  /** Throws CacheArgumentError for a model the schema does not have. */
  checkModel(model: string, argument: string): void;
  /** Every model of the client's schema. */
  schemaModels(): string[];
  /** Resolves once loads can fill L1 (the invalidation subscription is live). */
  ready(): Promise<unknown>;
  /** Replays a query through the read path, without sampling it. */
  replay(query: RecordedQuery, served: ServedBy): PromiseLike<unknown>;
  report(error: CacheError): void;
  /** This instance's counters: what fleetStats() answers when Redis cannot be read. */
  localStats(): CacheStats;
}

/**
 * The `$cache` methods of issue "statistics, warm(), observability": the glue between the
 * extension and the statistics modules, which know nothing of Prisma.
 */
export class StatsControl {
  readonly #parts: StatsControlParts;
  readonly #rules: ReplayRules;

  constructor(parts: StatsControlParts) {
    this.#parts = parts;
    this.#rules = {
      fingerprint: parts.fingerprint,
      models: [...parts.options.models.keys()],
      operations: CACHED_READS,
      checkCacheOption: (model, cache) => {
        try {
          parts.checkLifetime(model, cache);
          return undefined;
        } catch (error) {
          // A recorded lifetime above maxLifetime is clamped on replay like any read's; only invalid options are skipped.
          return error instanceof CacheArgumentError ? "invalid cache option" : "unreadable";
        }
      },
    };
  }

  warm(options?: WarmOptions): Promise<WarmResult> {
    const { observability, hooks, options: resolved } = this.#parts;
    const run = () =>
      warm(
        {
          ...this.#rules,
          queries: (top) => observability.topQueries(top),
          replay: (query, served) => this.#parts.replay(query, served),
          ready: this.#parts.ready,
          hooks,
          clock: resolved.clock,
          report: this.#parts.report,
        },
        options,
      );
    if (!tracing.warm.hasSubscribers) return run();
    const context: TraceContext = { namespace: resolved.namespace, operation: "warm", args: options };
    return tracing.warm.tracePromise(async () => (context.result = await run()) as WarmResult, context);
  }

  async topQueries(options: TopQueriesOptions = {}): Promise<Array<TopQuery>> {
    if (typeof options !== "object" || options === null) throw new CacheArgumentError("options", "expected { limit?, model? }");
    refuseUnknownKeys(options, ["limit", "model"]);
    const { limit = 20, model } = options;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new CacheArgumentError("limit", `expected a positive integer, got ${shownValue(limit)}`);
    if (model !== undefined) this.#parts.checkModel(model, "model");
    const { observability, options: resolved } = this.#parts;
    // Filtering by model reads the whole (bounded) top-K, then keeps that model's first `limit`.
    // Rejects with the Redis error once every attempt failed: an empty list means nothing was recorded.
    const recorded = await readRecordedQueries((top) => observability.topQueries(top), model === undefined ? limit : (resolved.queryStats?.maxQueries ?? limit));
    return recorded
      .filter((query) => model === undefined || query.model === model)
      .slice(0, limit)
      .map((query) => ({ ...query, skipReason: whySkipped(this.#rules, query) }));
  }

  async fleetStats(options: { countEntries?: boolean } = {}): Promise<FleetStats> {
    if (typeof options !== "object" || options === null) throw new CacheArgumentError("options", "expected { countEntries? }");
    refuseUnknownKeys(options, ["countEntries"]);
    if (options.countEntries !== undefined && typeof options.countEntries !== "boolean") throw new CacheArgumentError("countEntries", `expected a boolean, got ${shownValue(options.countEntries)}`);
    const { observability, options: resolved } = this.#parts;
    const namespace = resolved.namespace;
    const cachedModels = [...this.#rules.models];
    const schemaModels = this.#parts.schemaModels();
    try {
      // A SCAN on a lost connection would wait in ioredis's offline queue: fail fast, like every Redis call.
      const status = resolved.redis?.status ?? "ready";
      if (options.countEntries === true && LOST.has(status)) throw new CacheStoreError("SCAN", `connection is ${status}`);
      const [fleet, entries] = await withReadAttempts(() => Promise.all([observability.fleetStats(), options.countEntries === true ? observability.entryCounts() : undefined]));
      return { namespace, ...fleet, cachedModels, schemaModels, ...(entries === undefined ? {} : { entries }) };
    } catch (error) {
      // Redis unreachable: this instance's own counters, flagged as such.
      this.#parts.report(asStoreError(error));
      return { namespace, instances: 1, stats: this.#parts.localStats(), cachedModels, schemaModels, redisUnavailable: true };
    }
  }

  resetStats(): void {
    this.#parts.observability.countersResetting();
    this.#parts.counters.reset();
    this.#parts.observability.countersReset();
  }
}

/** A misspelt option (`{ lmit: 5 }`) would be ignored silently: it is an error naming it. */
function refuseUnknownKeys(options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new CacheArgumentError(key, `unknown option (expected ${known.join(" or ")})`);
  }
}

/** ioredis states in which a command cannot be sent now (as the Redis store treats them). */
const LOST = new Set(["close", "end", "reconnecting"]);

function asStoreError(error: unknown): CacheError {
  return error instanceof CacheError ? error : new CacheStoreError("call", String((error as Error)?.message ?? error), { cause: error });
}
