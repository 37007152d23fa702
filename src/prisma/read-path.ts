import type { HotKeyDetector } from "../core/hot-keys.js";
import { fitLifetime } from "../core/lifetime.js";
import type { ReadRequest } from "../core/read-request.js";
import { noteServed, type ServedBy } from "../core/served-by.js";
import type { TieredCache } from "../core/tiered-cache.js";
import { NotFoundMarker } from "../codec/not-found.js";
import { CacheArgumentError, UnencodableArgsError } from "../errors.js";
import type { BloomGuard } from "../guard/bloom-guard.js";
import { mergesAsAlone, namesUniqueKey, readDependencies, spelledAsStored } from "../invalidation/dependencies.js";
import { LearnedDependencies } from "../invalidation/learned-dependencies.js";
import { canonicalize, uniqueWhereField } from "../key/canonical.js";
import { KeyInterner } from "../key/key-interner.js";
import { cacheVariant } from "../key/cache-variant.js";
import { readScope } from "../key/read-scope.js";
import { deriveKey, withoutReadScope, type KeyScope } from "../key/derive-key.js";
import { UnsharedLoad } from "../core/single-flight.js";
import type { ReadPolicy, ResolvedOptions } from "../options.js";
import type { ScopedRead } from "../types.js";
import type { Counters } from "../stats/counters.js";
import type { HeavyHitters } from "../stats/heavy-hitters.js";
import type { Observability } from "../stats/observability.js";
import type { QuerySample, RecordedQuery, TrackedQuery } from "../stats/query-stats.js";
import { tracing } from "../stats/telemetry.js";
import type { PrismaSchema } from "./data-model.js";
import { delegateOf, passthrough, type ExtensionThis } from "./delegates.js";
import { failingRunner } from "./failed-query.js";
import type { FinalArgsProbe, ProbeListener } from "./final-args.js";
import { LazyQuery, type Delegates, type PrismaPromiseLike, type QueryRunner } from "./lazy-query.js";
import { notFoundDetail, notFoundError, THROWING_READS, toNotFoundMarker, unwrapNotFound } from "./not-found.js";
import { encodePrismaArgValue } from "./prisma-values.js";
import { splitCacheOption } from "./query-args.js";
import { snapshotArgs } from "./args-snapshot.js";
import { tracedQuery } from "./traced-query.js";
import { TRANSACTION_SCOPE } from "./transactions.js";

/** #loadArgs's answer for arguments that read differently on a second look. */
const UNSTABLE = Symbol("unstable arguments");

/**
 * Why a "not found" is served and not kept: its unique value is spelled otherwise than stored (see
 * spelledAsStored); loaded alone it is right, but the entry of one spelling is not the record's.
 */
const UNSURE_NOT_FOUND = "not found by a unique value spelled otherwise than stored";

/** How many keys' dependencies ReadPath remembers; the map starts over when full. */
const MAX_REMEMBERED_DEPS = 10_000;

/** Operations whose result may be null for "not found", and which carry Prisma's fluent API. */
export const SINGLE_RECORD = new Set(["findUnique", "findFirst", "findUniqueOrThrow", "findFirstOrThrow"]);
const UNIQUE_READS = new Set(["findUnique", "findUniqueOrThrow"]);
/** Operations whose result's top-level keys follow their arguments' order (`{ _count, _sum }`). */
const ORDERED_RESULT_OPERATIONS = new Set(["aggregate", "groupBy"]);

/** What the read path uses of the client's parts; CacheRuntime builds and owns them. */
export interface ReadPathParts {
  options: ResolvedOptions;
  schema: PrismaSchema;
  keyScope: KeyScope;
  counters: Counters;
  cache: TieredCache;
  guard: BloomGuard | undefined;
  hotKeys: HotKeyDetector | undefined;
  observability: Observability;
  probe: FinalArgsProbe;
  /** Per model, the query class carrying its fluent relations (shared with the write path). */
  fluentClasses: ReadonlyMap<string, typeof LazyQuery>;
  /** The client the extension was applied to: warm()'s replays run on it. */
  client: Delegates;
  /** The version name of this client's schema epoch, which every entry depends on (see schemaEpoch). */
  schemaEpoch: string;
}

/** Prisma reads to cache reads: key derivation, the L1 hit, the Bloom guard, and the request a miss loads through. */
export class ReadPath {
  readonly #options: ResolvedOptions;
  readonly #schema: PrismaSchema;
  readonly #keyScope: KeyScope;
  readonly #counters: Counters;
  readonly #cache: TieredCache;
  readonly #guard: BloomGuard | undefined;
  readonly #hotKeys: HotKeyDetector | undefined;
  readonly #observability: Observability;
  /** Models whose reads carried a `cache` option though the model is not cached: reported once each. */
  readonly #uncachedReported = new Set<string>();
  readonly #strictUndefined: boolean;
  /** Counts every read for query statistics (what warm() replays); undefined when nothing is recorded. */
  readonly #popularity: HeavyHitters<TrackedQuery, QuerySample> | undefined;
  /** Runs loads through one last query hook, to see the arguments other extensions' hooks produced. */
  readonly #probe: FinalArgsProbe;
  readonly #client: Delegates;
  readonly #learned = new LearnedDependencies();
  /**
   * The dependencies of recent keys. A key encodes the model, operation and every argument
   * (cache tags included), so it determines them, as long as nothing new was learned. Walking
   * the arguments was a tenth of an L2 hit's time in this process.
   */
  readonly #depsByKey = new Map<string, readonly string[]>();
  #depsGeneration = 0;
  /** The keys of `findUnique`-by-one-field reads, reused (see KeyInterner). */
  readonly #keys = new KeyInterner();
  /** Per model, the query class carrying its fluent relations (single-record reads only). */
  readonly #fluentClasses: ReadonlyMap<string, typeof LazyQuery>;
  readonly #clientVersion: string;
  readonly #schemaEpoch: string;
  /** The `scope` option when it is a function: asked on every cached read (a static scope is part of #keyScope). */
  readonly #scopeOf: ((read: ScopedRead) => unknown) | undefined;
  /**
   * Scoped keys to the keys query statistics count them under (without the scope): one query for
   * every tenant, so thousands of tenants do not split one query into thousands (outside probe 145).
   */
  readonly #statsKeys = new Map<string, string>();
  #closed = false;

  constructor(parts: ReadPathParts) {
    this.#options = parts.options;
    this.#schema = parts.schema;
    this.#keyScope = parts.keyScope;
    this.#counters = parts.counters;
    this.#cache = parts.cache;
    this.#guard = parts.guard;
    this.#hotKeys = parts.hotKeys;
    this.#observability = parts.observability;
    this.#popularity = parts.observability.popularity;
    this.#probe = parts.probe;
    this.#client = parts.client;
    this.#clientVersion = parts.schema.clientVersion;
    this.#schemaEpoch = parts.schemaEpoch;
    // With this preview feature Prisma rejects an explicit undefined member: such a read is left to Prisma.
    this.#strictUndefined = (parts.client as { _previewFeatures?: readonly string[] })._previewFeatures?.includes("strictUndefinedChecks") === true;
    this.#fluentClasses = parts.fluentClasses;
    this.#scopeOf = typeof parts.options.scope === "function" ? parts.options.scope : undefined;
  }

  /** After close(): reads pass straight through to Prisma (counted as bypasses, "cache closed"). */
  stop(): void {
    this.#closed = true;
  }

  get stopped(): boolean {
    return this.#closed;
  }

  /** Every read operation on every model comes through here: keep it allocation-light. */
  read(context: ExtensionThis, operation: string, rawArgs: Record<string, unknown> | undefined): unknown {
    const model = context.$name;
    const parent = context.$parent;
    // Not an object (`findMany("x")`): Prisma rejects it with its own validation error.
    if (typeof rawArgs !== "object" && rawArgs !== undefined) return delegateOf(this.#schema.delegateKeys, parent, model)[operation]!(rawArgs);
    let split: ReturnType<typeof splitCacheOption>;
    try {
      split = splitCacheOption(rawArgs);
    } catch (error) {
      // Like Prisma's own validation errors: a rejected query, never a throw at the call.
      const QueryClass = SINGLE_RECORD.has(operation) ? (this.#fluentClasses.get(model) ?? LazyQuery) : LazyQuery;
      return new QueryClass(failingRunner(error), parent, model, operation, undefined, undefined);
    }
    const { args, cache } = split;
    const policy = this.#options.models.get(model);
    if (policy === undefined || this.#closed) {
      if (policy === undefined && cache !== undefined && cache !== false) this.#reportUncached(model);
      else if (policy !== undefined) this.#counters.bypass("cache closed");
      return delegateOf(this.#schema.delegateKeys, parent, model)[operation]!(args);
    }
    // Inside a transaction first: the Accelerate mode passes `cache: false` for every read without a cacheStrategy.
    if (parent[TRANSACTION_SCOPE] !== undefined) {
      this.#counters.bypass("transaction");
      return delegateOf(this.#schema.delegateKeys, parent, model)[operation]!(args);
    }
    const QueryClass = SINGLE_RECORD.has(operation) ? this.#fluentClasses.get(model)! : LazyQuery;
    return cache === false ? new QueryClass(this.#uncachedReads, parent, model, operation, args, undefined) : new QueryClass(this.#reads, parent, model, operation, args, cache);
  }

  /**
   * A per-query `cache` option on a model the cache leaves alone runs uncached (a configuration
   * that caches a model in one environment only stays valid), but it is most likely a model
   * missing from `models`: reported once per model, never silently dropped.
   */
  #reportUncached(model: string): void {
    if (this.#uncachedReported.has(model)) return;
    this.#uncachedReported.add(model);
    this.#observability.error(new CacheArgumentError("cache", `${model} is not cached (it is not in \`models\`, or is set to false there): the read ran uncached; cache the model, or pass \`cache: false\` (reported once per model)`));
  }

  /** A recorded query as warm() replays it: through the read path, on the extension's client. */
  replay(query: RecordedQuery, served: ServedBy): LazyQuery {
    const replay = new LazyQuery(this.#replays, this.#client, query.model, query.operation, query.args, query.cache);
    replay.$served = served;
    return replay;
  }

  readonly #reads: QueryRunner = {
    run: (query) => (tracing.read.hasSubscribers ? tracedQuery(tracing.read, this.#options.namespace, query, () => this.#runRead(query)) : this.#runRead(query)),
    passthrough: (query) => passthrough(this.#schema.delegateKeys, query),
    fluent: (query, relation, args) => {
      // `findUnique(…).posts()` is one query for the related records, which Prisma runs itself: not cached, and counted as such.
      this.#counters.bypass("fluent relation");
      const plain = passthrough(this.#schema.delegateKeys, query);
      return (plain[relation] as (args: unknown) => unknown).call(plain, args);
    },
  };

  /**
   * Reads with `cache: false`: Prisma's query, counted as a bypass when it runs, not when it is
   * made — a query never awaited reads nothing (outside probe 128: the Accelerate mode's
   * `withAccelerateInfo()` makes the query anew, and each uncached read counted twice).
   */
  readonly #uncachedReads: QueryRunner = {
    uncached: true,
    run: (query) => Promise.resolve(this.#uncachedReads.passthrough(query)),
    // Also a batch's part (requestTransaction), and a fluent call's start.
    passthrough: (query) => {
      this.#counters.bypass("cache: false");
      return passthrough(this.#schema.delegateKeys, query);
    },
    fluent: (query, relation, args) => {
      const plain = this.#uncachedReads.passthrough(query);
      return (plain[relation] as (args: unknown) => unknown).call(plain, args);
    },
  };

  /** warm()'s replays: the read path, but never counted (replays would inflate what they replay). */
  readonly #replays: QueryRunner = {
    run: (query) => this.#runRead(query),
    passthrough: (query) => passthrough(this.#schema.delegateKeys, query),
    fluent: (query) => passthrough(this.#schema.delegateKeys, query),
  };

  #runRead(query: LazyQuery): Promise<unknown> {
    const policy = this.#policyFor(query);
    if (this.#scopeOf !== undefined) {
      try {
        query.$scope = readScope(this.#scopeOf, scopedRead(query));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const key = this.#keyOf(query);
    if (key === undefined) return Promise.resolve(passthrough(this.#schema.delegateKeys, query));
    // Query statistics: one Map lookup and increment per read; warm()'s replays would inflate what they replay.
    if (query.$runner !== this.#replays) this.#popularity?.add(this.#statsKeyOf(query, key), query);
    if (query.$served !== undefined) query.$served.key = key;
    const hot = this.#hotKeys?.touch(key) === true;
    const hit = this.#cache.readL1(key, query.$model, policy, hot);
    if (hit === undefined) return this.#readMissed(query, key, policy, hot);
    if (query.$served !== undefined) noteServed(query.$served, "l1", hit[1] === "stale", hit[2]);
    if (hit[1] !== undefined) {
      const args = this.#loadArgs(query, key);
      if (args !== UNSTABLE) this.#cache.refreshInBackground(this.#request(query, key, args, policy, hot), hit[1], hit[2]);
    }
    if (hit[0] instanceof NotFoundMarker) return Promise.reject(notFoundError(hit[0].detail, this.#clientVersion));
    return Promise.resolve(hit[0]);
  }

  /**
   * The read's cache key, or undefined when its arguments cannot be encoded (counted). The
   * dominant read, `{ where: { <field>: <value> } }` of plain objects, is keyed from the caller's
   * arguments (its key interned, nothing copied on an L1 hit); any other read is keyed from the
   * copy it will load with, which replaces its arguments (see snapshotArgs).
   */
  #keyOf(query: LazyQuery): string | undefined {
    const field = query.$cacheOption === undefined ? uniqueWhereField(query.$args) : undefined;
    return field === undefined ? this.#keyOfArgs(query, query.$copyArgs()) : this.#keyOfArgs(query, query.$args, field);
  }

  /** `field`: the field of a `{ where: { <field>: <value> } }` read (see uniqueWhereField), whose key is interned. */
  #keyOfArgs(query: LazyQuery, args: Record<string, unknown> | undefined, field = query.$cacheOption === undefined ? uniqueWhereField(args) : undefined): string | undefined {
    const value = field === undefined ? undefined : (args!.where as Record<string, number | string>)[field];
    // A scoped read's key is interned per scope: its operation stands for the pair.
    const internedAs = query.$scope === undefined ? query.$operation : `${query.$operation}\u0000${query.$scope}`;
    const interned = value === undefined ? undefined : this.#keys.get(query.$model, internedAs, field!, value);
    if (interned !== undefined) return interned;
    let canonicalArgs: string;
    try {
      // `findMany(null)` is not `findMany()`: Prisma throws reading null's members (outside probe 274: served the rows once `findMany()` was cached).
      canonicalArgs = canonicalize(args === undefined ? {} : args, encodePrismaArgValue, { orderedRoot: ORDERED_RESULT_OPERATIONS.has(query.$operation), strictUndefined: this.#strictUndefined });
      if (query.$cacheOption !== undefined) canonicalArgs = cacheVariant(query.$cacheOption) + canonicalArgs;
    } catch (error) {
      if (!(error instanceof UnencodableArgsError)) throw error;
      this.#counters.bypass(`unencodable args: ${error.reason}`);
      return undefined;
    }
    const key = deriveKey(this.#keyScope, query.$model, query.$operation, canonicalArgs, query.$scope);
    if (value !== undefined) this.#keys.set(query.$model, internedAs, field!, value, key);
    return key;
  }

  /**
   * The arguments a load of `key` runs with: the read's copy, taken now for a read keyed from the
   * caller's object (an L1 hit copies nothing). UNSTABLE when the copy no longer says what the
   * key says (a getter answering differently on each read): that read is left to Prisma.
   */
  #loadArgs(query: LazyQuery, key: string): Record<string, unknown> | undefined | typeof UNSTABLE {
    if (query.$argsCopied) return query.$args;
    const args = snapshotArgs(query.$args);
    return this.#keyOfArgs(query, args) === key ? args : UNSTABLE;
  }

  /** Not in L1: the Bloom guard may answer "absent" at once; otherwise L2, then the database. */
  #readMissed(query: LazyQuery, key: string, policy: ReadPolicy, hot: boolean): Promise<unknown> {
    const args = this.#loadArgs(query, key);
    if (args === UNSTABLE) return this.#leftToPrisma(query, key, "arguments changed while read");
    // Prisma's verdict on a unique read that names no unique key depends on what else it batched with that tick.
    if (UNIQUE_READS.has(query.$operation) && !namesUniqueKey(this.#schema.graph, query.$model, args?.where)) return this.#leftToPrisma(query, key, "no unique key in where");
    // Not where another extension's hook may rewrite the read's where (a lower-cased email): the guard sees the caller's.
    if (this.#guard?.guards(query.$model) && UNIQUE_READS.has(query.$operation) && !this.#probe.hooked(this.#schema.delegateKeys.get(query.$model)!, query.$operation) && this.#guard.check(query.$model, args) === "absent") {
      // Nothing to warm while the guard answers it (outside probe 221: ranked second by topQueries);
      // not marked unreplayable for good, though: the record may be created, then read often (outside probe 222).
      if (query.$runner !== this.#replays) this.#popularity?.discount(this.#statsKeyOf(query, key));
      if (query.$served !== undefined) noteServed(query.$served, "bloom", false, undefined);
      return query.$operation === "findUnique" ? Promise.resolve(null) : Promise.reject(notFoundError(notFoundDetail(query.$model, query.$operation), this.#clientVersion));
    }
    let read = this.#cache.readThrough(this.#request(query, key, args, policy, hot));
    // Only this read's own load ends so (see UnsharedLoad): its value answers it.
    if (this.#scopeOf !== undefined) read = read.catch(valueOfUnsharedLoad);
    return THROWING_READS.has(query.$operation) ? read.then(this.#unwrapNotFound) : read;
  }

  /** A read the cache never caches: counted as a bypass, and never recorded for warm() (its replay would cache nothing). */
  #leftToPrisma(query: LazyQuery, key: string, reason: string): Promise<unknown> {
    this.#counters.bypass(reason);
    this.#observability.neverRecord(this.#statsKeyOf(query, key));
    const ran = passthrough(this.#schema.delegateKeys, query);
    // A unique read answered as a lone call (a fractional Int truncated), not merged with others of
    // its tick (outside probe 200: a fan-out of such reads answered null): in a one-query transaction.
    const parent = query.$parent as { $transaction?: (queries: PrismaPromiseLike[]) => Promise<unknown[]> };
    if (UNIQUE_READS.has(query.$operation) && typeof parent.$transaction === "function") return parent.$transaction([ran]).then(([result]) => result);
    return Promise.resolve(ran);
  }

  readonly #unwrapNotFound = (value: unknown) => unwrapNotFound(value, this.#clientVersion);

  /** `args`: the read's copy (#loadArgs), what its key, dependencies and load all come from. */
  #request(query: LazyQuery, key: string, args: Record<string, unknown> | undefined, policy: ReadPolicy, hot: boolean): ReadRequest {
    const { $model: model, $operation: operation } = query;
    const tags = query.$cacheOption?.tags;
    const deps = this.#depsOf(query, args, key);
    // Another extension's query hook may make the query that runs reach more than the caller's
    // arguments, or answer it without running it: the result is served, and not stored.
    let notStored: string | undefined;
    const checkReach = (finalArgs: Record<string, unknown> | undefined) => {
      try {
        if (finalArgs === args || this.#learned.covers(model, operation, deps, readDependencies(this.#schema.graph, model, operation, finalArgs, tags))) return;
      } catch {
        // Arguments no walk can read: serve the result, store nothing. Never fail the read.
      }
      notStored = "query reached more than its arguments";
    };
    // Whether the scope still held when the query reached the database, after the other extensions' hooks ran (see #scopeChecked).
    const scoped: ScopeCheck | undefined = this.#scopeOf === undefined ? undefined : { movedAtQuery: false, thrown: undefined };
    const listener: ProbeListener = {
      // A hook may run the query again with other arguments (a retry with the email lower-cased): each attempt counts.
      onAttempt: (finalArgs) => {
        checkReach(finalArgs);
        if (scoped !== undefined && !this.#scopeHolds(query, scoped)) scoped.movedAtQuery = true;
      },
      // A read replica's copy, a findFirst on the hook's own client: not known to be as new as the versions captured.
      onAnsweredElsewhere: () => (notStored = "answered by another extension"),
    };
    // Prisma merges the findUnique calls of one tick and matches rows to calls by `===`: a value
    // spelled otherwise than stored (an unpadded CHAR, an upper-case UUID), or any member beside the
    // unique key, finds nothing when merged where a lone call finds the row — and the cache's own
    // loads and refreshes join the caller's tick (outside probes 198, 200: a refresh beside a cold
    // read made it answer null). Such a read loads alone (see mergesAsAlone).
    const alone = UNIQUE_READS.has(operation) && !mergesAsAlone(this.#schema.graph, model, args?.where);
    const timed = () => this.#timedLoad(query, key, args, listener, alone);
    const load = THROWING_READS.has(operation) ? () => timed().catch((error: unknown) => toNotFoundMarker(model, operation, error)) : timed;
    return {
      key,
      hot,
      model,
      policy,
      deps,
      load: scoped === undefined ? load : this.#scopeChecked(query, load, scoped),
      isNotFound: SINGLE_RECORD.has(operation) ? isNotFound : never,
      whyNotStored: (value) => notStored ?? (UNIQUE_READS.has(operation) && isNotFound(value) && !spelledAsStored(this.#schema.graph, model, args?.where) ? UNSURE_NOT_FOUND : undefined),
      served: query.$served,
    };
  }

  #depsOf(query: LazyQuery, args: Record<string, unknown> | undefined, key: string): readonly string[] {
    if (this.#depsGeneration !== this.#learned.generation || this.#depsByKey.size >= MAX_REMEMBERED_DEPS) {
      this.#depsByKey.clear();
      this.#depsGeneration = this.#learned.generation;
    }
    let deps = this.#depsByKey.get(key);
    if (deps === undefined) {
      const { $model: model, $operation: operation } = query;
      // Every entry depends on its database's schema epoch too (see schemaEpoch).
      deps = [...this.#learned.withLearned(model, operation, readDependencies(this.#schema.graph, model, operation, args, query.$cacheOption?.tags)), this.#schemaEpoch];
      this.#depsByKey.set(key, deps);
    }
    return deps;
  }

  #policyFor(query: LazyQuery): ReadPolicy {
    const policy = this.#options.models.get(query.$model)!;
    const override = query.$cacheOption;
    if (override === undefined || (override.ttl === undefined && override.swr === undefined)) return policy;
    const ttlMs = override.ttl === undefined ? policy.ttlMs : override.ttl * 1000;
    const swrMs = override.swr === undefined ? policy.swrMs : override.swr * 1000;
    const fitted = fitLifetime(ttlMs, swrMs, policy.jitter, this.#options.maxLifetimeMs);
    if (fitted.clamped) this.#counters.clamp("cache.ttl + cache.swr above maxLifetime");
    // "Not found" is kept no longer than the query asked its results to be fresh.
    const negativeTtlMs = override.ttl === undefined ? policy.negativeTtlMs : Math.min(policy.negativeTtlMs, fitted.ttlMs);
    return { ...policy, ttlMs: fitted.ttlMs, swrMs: fitted.swrMs, negativeTtlMs };
  }

  /**
   * The scope was asked when the read started; the tenant filter it stands for runs when the load
   * does, after Redis answered (a refresh: after the read returned). A store changed in place
   * meanwhile (a job walking the tenants, a request switching its tenant) would file one tenant's
   * rows under another's key (outside probe 145), or hand them to reads of the key that joined
   * the load (probe 146). So it is asked again before the load, when the query passes the last
   * query hook (right after a tenant filter applied before the cache read its store: a store that
   * moved and moved back during the load is caught there), and after it: if it moved, the value
   * answers its own read only (UnsharedLoad: not stored, and reads that joined load by themselves).
   */
  #scopeChecked(query: LazyQuery, load: () => Promise<unknown>, scoped: ScopeCheck): () => Promise<unknown> {
    return async () => {
      scoped.movedAtQuery = false;
      scoped.thrown = undefined;
      const heldBefore = this.#scopeHolds(query, scoped);
      const value = await load();
      // Before the load, when the query passed the other extensions' hooks (where a tenant filter
      // applied before the cache has just read its store), and after it.
      if (heldBefore && !scoped.movedAtQuery && this.#scopeHolds(query, scoped)) return value;
      this.#counters.bypass(SCOPE_MOVED);
      // A throw travels with it: a background refresh, which no caller awaits, reports it (outside
      // probe 251: a scope function throwing there dropped the refresh without a word).
      throw new UnsharedLoad(value, SCOPE_MOVED, scoped.thrown === undefined ? undefined : { cause: scoped.thrown });
    };
  }

  /** Whether the scope function still answers what it answered when `query` started; a throw says no, and is kept in `check`. */
  #scopeHolds(query: LazyQuery, check: ScopeCheck): boolean {
    try {
      return readScope(this.#scopeOf!, scopedRead(query)) === query.$scope;
    } catch (error) {
      check.thrown ??= error;
      return false;
    }
  }

  /** The key query statistics count a read under: its key without the part a scope function added. */
  #statsKeyOf(query: LazyQuery, key: string): string {
    if (query.$scope === undefined) return key;
    let statsKey = this.#statsKeys.get(key);
    if (statsKey === undefined) {
      if (this.#statsKeys.size >= MAX_REMEMBERED_DEPS) this.#statsKeys.clear();
      statsKey = withoutReadScope(`${this.#keyScope.namespace}:${this.#keyScope.fingerprint}`, key);
      this.#statsKeys.set(key, statsKey);
    }
    return statsKey;
  }

  /** A database load, timed: statistics weight queries by it and it feeds the load-duration metric. */
  #timedLoad(query: LazyQuery, key: string, args: Record<string, unknown> | undefined, listener: ProbeListener, alone: boolean): Promise<unknown> {
    return this.#observability.timeLoad(query, this.#statsKeyOf(query, key), () => this.#probe.run(this.#schema.delegateKeys.get(query.$model)!, query.$model, query.$operation, args, listener, alone));
  }
}

const isNotFound = (value: unknown) => value === null || value instanceof NotFoundMarker;
/** What a `scope` function is told about a read: not the query object itself. */
const scopedRead = (query: LazyQuery): ScopedRead => ({ model: query.$model, operation: query.$operation, args: query.$args });
const valueOfUnsharedLoad = (error: unknown) => {
  if (error instanceof UnsharedLoad) return error.value;
  throw error;
};
/** What the scope checks around one load saw (see #scopeChecked): whether it moved when the query passed the hooks, and the first throw. */
interface ScopeCheck {
  movedAtQuery: boolean;
  thrown: unknown;
}

/** The bypass reason of a load whose `scope` answer moved since its read started (see #request). */
const SCOPE_MOVED = "scope changed while read";
const never = () => false;
