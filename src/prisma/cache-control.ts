import type { HotKeyDetector } from "../core/hot-keys.js";
import type { TieredCache } from "../core/tiered-cache.js";
import { CacheArgumentError, CacheClosedError, CacheError, shownValue, UndeliveredInvalidationsError } from "../errors.js";
import type { BloomGuard } from "../guard/bloom-guard.js";
import { bloomVersion } from "../guard/bloom-writes.js";
import { settleWithin } from "../core/settle-within.js";
import type { ModelGraph } from "../invalidation/model-graph.js";
import type { Versions } from "../invalidation/versions.js";
import type { ResolvedOptions } from "../options.js";
import type { CircuitBreaker } from "../stores/circuit-breaker.js";
import type { MemoryStore } from "../stores/memory-store.js";
import type { Counters } from "../stats/counters.js";
import type { CacheEvents } from "../stats/events.js";
import type { FleetStats } from "../stats/fleet-snapshots.js";
import type { Observability } from "../stats/observability.js";
import { tracing } from "../stats/telemetry.js";
import type { WarmOptions, WarmResult } from "../stats/warm.js";
import type { CacheStats } from "../types.js";
import { deliverQueued } from "./queued-delivery.js";
import { FailedQuery } from "./failed-query.js";
import type { StatsControl, TopQueriesOptions, TopQuery } from "./stats-control.js";
import type { WriteNames } from "./write-names.js";

/** What `$cache.invalidate()` invalidates: a model, models or tags (at least one of them). */
export type InvalidateTarget<ModelName extends string = string> = { model?: ModelName | undefined; models?: readonly ModelName[] | undefined; tags?: readonly string[] | undefined } & ({ model: ModelName } | { models: readonly ModelName[] } | { tags: readonly string[] });

/** The `$cache` property of an extended client; `ModelName` is the type argument given to `cacheExtension`. */
export interface CacheControl<ModelName extends string = string> {
  /** Counters since start: hits and misses overall, per tier and per model, invalidations, absorbed failures. */
  stats(): CacheStats;
  /** Invalidates every cached read of the named models, or every entry carrying one of the tags (naming nothing is a CacheArgumentError). */
  invalidate(target: InvalidateTarget<ModelName>): Promise<void>;
  /**
   * Runs a raw statement, invalidating only the models named instead of every model. Returns the
   * statement itself: lazy like any Prisma query, and an element a `$transaction([...])` takes.
   */
  raw<Query extends PromiseLike<unknown>>(models: readonly ModelName[], query: Query): Query;
  /** Loads the fleet's shared Bloom filters of guarded models, building those that are missing or stale. */
  prepareBloom(): Promise<void>;
  /** Rebuilds the Bloom filter of one guarded model, or of all, by scanning their tables (one builder for the fleet). */
  rebuildBloom(model?: ModelName): Promise<void>;
  /**
   * Replays the most valuable recorded queries (the fleet's statistics) through the read path,
   * filling Redis and this instance's L1: call it at start-up, before reporting ready. Instances
   * warming at once load each query once. Resolves with `{ warmed, failed, skipped, ... }`.
   */
  warm(options?: WarmOptions): Promise<WarmResult>;
  /** The most valuable recorded queries, best first, and whether warm() would replay each. */
  topQueries(options?: TopQueriesOptions<ModelName>): Promise<TopQuery[]>;
  /** The counters of every live instance of this namespace added up; with `countEntries`, Redis entries per model (a SCAN). */
  fleetStats(options?: { countEntries?: boolean | undefined }): Promise<FleetStats>;
  /** Sets this instance's counters (`stats()`) back to zero. Recorded query statistics are kept. */
  resetStats(): void;
  /** Hit, miss, stale, invalidation, error and alert events (a Node EventEmitter; hit/miss events cost nothing until listened to). */
  readonly events: CacheEvents;
  /**
   * Resolves when background work started so far is done: refreshes finished, queued invalidations
   * delivered (retried for max(2 s, 8 × redisTimeout), else it rejects with an
   * UndeliveredInvalidationsError naming them: they stay queued), samples flushed. Once close()
   * began, it settles as close() does.
   */
  drain(): Promise<void>;
  /**
   * Stops caching (reads pass through), delivers queued invalidations (trying for max(2 s, 8 × redisTimeout)) and closes the
   * connection the extension opened; never the caller's Redis. Rejects with `UndeliveredInvalidationsError` (also emitted as an
   * `error` event) if some invalidations could not be delivered.
   */
  close(): Promise<void>;
}

/** The client's parts `$cache` reaches; CacheRuntime builds and owns them. */
export interface CacheControlParts {
  options: ResolvedOptions;
  graph: ModelGraph;
  counters: Counters;
  events: CacheEvents;
  l1: MemoryStore | undefined;
  versions: Versions;
  cache: TieredCache;
  breaker: CircuitBreaker | undefined;
  guard: BloomGuard | undefined;
  hotKeys: HotKeyDetector | undefined;
  observability: Observability;
  statsControl: StatsControl;
  writeNames: WriteNames;
  /** Bumps `names` fleet-wide (Bloom filters learn them first): resolves once every instance dropped them, or after waiting for their delivery (counted). */
  invalidate(names: Iterable<string>): Promise<void>;
  /** Makes reads pass through: the first step of close(). */
  stopReads(): void;
  /** `query` named with `models` (see WritePath.nameRawStatement); undefined when it is no raw statement of this client. */
  nameRawStatement(query: unknown, models: readonly string[]): unknown;
  /** Refuses writes (CacheClosedError), then waits up to `timeoutMs` for those in flight; resolves with how many still run. */
  stopWrites(timeoutMs: number): Promise<number>;
  /** What the writes still running would invalidate (see WriteGate.runningNames). */
  runningWriteNames(): string[];
  /** Closes the Redis subscription the extension opened. */
  closeBus(): Promise<void>;
  report(error: CacheError): void;
}

/**
 * Builds `$cache`. Its methods are arrow functions on a plain object, not class methods, so that
 * callers may take them off the object (`const { invalidate } = prisma.$cache`).
 */
export function createCacheControl(parts: CacheControlParts): CacheControl {
  const { options, statsControl } = parts;
  // One close for every call: a second call settles as the first (its undelivered invalidations are reported once).
  let closing: Promise<void> | undefined;
  // What needs the fleet's connections is refused once close() began, as writes are (see WriteGate).
  const refuseIfClosed = (method: string) => {
    if (closing !== undefined) throw new CacheClosedError(`$cache.${method}()`);
  };
  const control: CacheControl = {
    stats: () => statsOf(parts),
    invalidate: async (target) => {
      refuseIfClosed("invalidate");
      const names = explicitTargets(parts, target);
      if (!tracing.invalidate.hasSubscribers) return parts.invalidate(names);
      return tracing.invalidate.tracePromise(() => parts.invalidate(names), { namespace: options.namespace, operation: "invalidate", args: target });
    },
    warm: async (warmOptions) => {
      refuseIfClosed("warm");
      return statsControl.warm(warmOptions);
    },
    topQueries: async (topOptions) => {
      refuseIfClosed("topQueries");
      return statsControl.topQueries(topOptions);
    },
    fleetStats: async (fleetOptions) => {
      refuseIfClosed("fleetStats");
      return statsControl.fleetStats(fleetOptions);
    },
    resetStats: () => statsControl.resetStats(),
    events: parts.events,
    // Not async: the statement is returned as it came, a lazy Prisma promise that a `$transaction([...])`
    // batch accepts and that runs only when awaited (an async function would start it at once).
    raw: (models, query) => {
      try {
        const named = parts.nameRawStatement(query, checkModels(parts.graph, models, "models"));
        if (named === undefined) throw new CacheArgumentError("query", `expected a raw statement of this client ($executeRaw, $executeRawUnsafe, $queryRaw, $queryRawUnsafe or $queryRawTyped), got ${describeStatement(query)}`);
        return named as never;
      } catch (error) {
        // Lazy like the statement: rejects when awaited or run in a batch, never unhandled if dropped.
        return new FailedQuery(error) as never;
      }
    },
    prepareBloom: async () => {
      refuseIfClosed("prepareBloom");
      return parts.guard?.prepare();
    },
    rebuildBloom: async (model) => {
      refuseIfClosed("rebuildBloom");
      return rebuildBloom(parts, model);
    },
    drain: async () => {
      await parts.cache.drain();
      // Once close() began, it delivers (or reports) what is queued: drain() settles as it does
      // (outside probe 290: one called during close() resolved, and close() then rejected).
      if (closing !== undefined) return closing;
      // Retried as close() does, not tried once (outside probe 288: right after Redis came back it
      // resolved with the whole backlog queued).
      const undelivered = await deliverQueued(parts.versions, options.redisTimeoutMs, "drain()");
      await parts.observability.drain();
      if (undelivered !== undefined) throw undelivered;
    },
    close: () => (closing ??= closeCache(parts)),
  };
  controls.add(control);
  return control;
}

/** Every `$cache` made, to tell a client that already has the cache (see CacheExtendedTwiceError). */
const controls = new WeakSet<object>();

export function isCacheControl(value: unknown): boolean {
  return typeof value === "object" && value !== null && controls.has(value);
}

/** Checks that every name is a model of the schema; the error names the argument at fault and lists the models. */
export function checkModels(graph: ModelGraph, models: readonly string[], argument: string): string[] {
  if (!Array.isArray(models)) throw new CacheArgumentError(argument, `expected an array of model names, got ${shownValue(models)}`);
  for (const model of models) {
    // A name that is not a string (`rebuildBloom(["Doc"])`) would print as the model it holds.
    if (typeof model !== "string") throw new CacheArgumentError(argument, `expected a model name, got ${describeValue(model)}`);
    if (graph.model(model) === undefined) {
      throw new CacheArgumentError(argument, `no model named "${model}" (models: ${graph.modelNames.join(", ")})`);
    }
  }
  return [...models];
}

function describeValue(value: unknown): string {
  // Its first members, each as shownValue tells it: JSON fails on a bigint or a cycle (outside probe 283).
  if (Array.isArray(value)) return `an array ([${value.slice(0, 5).map((member) => shownValue(member)).join(", ")}${value.length > 5 ? ", …" : ""}])`;
  return shownValue(value);
}

function statsOf(parts: CacheControlParts): CacheStats {
  return {
    ...parts.counters.snapshot(),
    l1Entries: parts.l1?.size ?? 0,
    l1Bytes: parts.l1?.bytes ?? 0,
    pendingInvalidations: parts.versions.pendingCount,
    circuitOpen: parts.breaker?.open === true,
    hotKeys: parts.hotKeys?.hot().slice(0, 10) ?? [],
    queryStats: parts.observability.recorderCounts,
  };
}

function describeStatement(query: unknown): string {
  if (typeof query !== "object" || query === null) return typeof query === "string" ? "a string" : String(query);
  const tag = (query as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  return tag === "PrismaPromise" ? "a Prisma query that is not a raw statement of this client (a model query, or another client's statement)" : `a ${query.constructor?.name ?? "null-prototype object"}`;
}

/** The names `invalidate()` bumps: every name of the models given, and the tags. */
function explicitTargets(parts: CacheControlParts, target: { model?: string; models?: readonly string[]; tags?: readonly string[] }): string[] {
  if (typeof target !== "object" || target === null || Array.isArray(target)) throw new CacheArgumentError("target", `expected { model?, models?, tags? }, got ${shownValue(target)}`);
  // A misspelt key ({ modle: "User" }) would invalidate nothing, silently.
  for (const key of Object.keys(target)) {
    if (key !== "model" && key !== "models" && key !== "tags") throw new CacheArgumentError(key, "unknown key (expected model, models or tags)");
  }
  // `null` is refused as every option refuses it, not taken for "none" (outside probe 267: `tags: null` was, `model: null` was not),
  // read as the members are read below: a getter or an inherited member too (outside probe 268).
  for (const [key, expected] of [["model", "a model name"], ["models", "an array of model names"], ["tags", "an array of non-empty strings"]] as const) {
    if (target[key] === null) throw new CacheArgumentError(key, `expected ${expected}, got null`);
  }
  // A target computed as undefined (`{ model: undefined }`, `{}`) would invalidate nothing, silently.
  if (target.model === undefined && target.models === undefined && target.tags === undefined) throw new CacheArgumentError("target", "names nothing to invalidate (expected a model, models or tags)");
  const models = [
    ...(target.model === undefined ? [] : checkModels(parts.graph, [target.model], "model")),
    ...(target.models === undefined ? [] : checkModels(parts.graph, target.models, "models")),
  ];
  const tags = target.tags ?? [];
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === "string" && tag !== "")) {
    throw new CacheArgumentError("tags", `expected an array of non-empty strings, got ${Array.isArray(tags) ? "an array holding other values" : shownValue(tags)}`);
  }
  return [...(models.length === 0 ? [] : parts.writeNames.ofChangedModels(models)), ...parts.writeNames.ofTags(tags)];
}

async function rebuildBloom(parts: CacheControlParts, model: string | undefined): Promise<void> {
  const models = model === undefined ? [...parts.options.models].filter(([, p]) => p.bloom).map(([name]) => name) : checkModels(parts.graph, [model], "model");
  for (const name of models) {
    if (parts.guard === undefined || !parts.guard.guards(name)) throw new CacheArgumentError("model", `model "${name}" has no Bloom guard (set models.${name}.bloom)`);
    // Every instance's copy is suspended first, as a write that may have created records it cannot
    // name suspends it, so none answers "absent" for rows that exist once this resolves: built at
    // the old version, the copies of other instances went on trusting it (outside probe 221:
    // another process answered "not found" for a row inserted outside the extension, after
    // rebuildBloom() resolved, until maxAge).
    await parts.invalidate([bloomVersion(name)]);
    await parts.guard!.rebuild(name);
  }
}

async function closeCache(parts: CacheControlParts): Promise<void> {
  const { options } = parts;
  parts.stopReads();
  // Builds stop at their next page and release the fleet's build lock, while the connections are open.
  const buildsStopped = parts.guard?.stop();
  // Writes in flight invalidate what they changed while the connections are still open.
  const writing = await parts.stopWrites(options.closeTimeoutMs);
  if (writing > 0) parts.report(new CacheError("E_CLOSE_TIMEOUT", `close(): ${writing} write(s) or transaction(s) still running after closeTimeout (${options.closeTimeoutMs} ms); what they change is invalidated only if they settle before the connections close (a transaction that commits writes later is rolled back)`));
  const abandoned = await parts.cache.close(options.closeTimeoutMs);
  if (abandoned.refreshes + abandoned.reads > 0) {
    parts.report(new CacheError("E_CLOSE_TIMEOUT", `close(): ${abandoned.refreshes} background refresh(es) and ${abandoned.reads} read(s) or store(s) still running after closeTimeout (${options.closeTimeoutMs} ms) were abandoned; their results are not stored`));
  }
  if (buildsStopped !== undefined) await settleWithin(buildsStopped, options.closeTimeoutMs);
  parts.l1?.clear();
  // Bounded: delivers what is queued or reports it (an error event, a counter, a rejected close()).
  const queued = await deliverQueued(parts.versions, options.redisTimeoutMs, "close()");
  parts.breaker?.stop();
  await parts.observability.close();
  // Writes still running (past closeTimeout) cannot deliver their invalidation once the connections
  // close, nor can what was queued since the last delivery: reported with what was not delivered.
  const running = options.redis === undefined ? [] : parts.runningWriteNames();
  const notDelivered = new Set([...(queued?.names ?? []), ...parts.versions.pendingNames(), ...running]);
  parts.versions.stopDelivering();
  await parts.closeBus();
  const undelivered = notDelivered.size === 0 ? undefined : new UndeliveredInvalidationsError([...notDelivered]);
  if (undelivered !== undefined) {
    parts.counters.undeliveredInvalidations += undelivered.names.length;
    parts.report(undelivered);
    throw undelivered;
  }
}
