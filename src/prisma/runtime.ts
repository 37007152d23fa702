import { Codec } from "../codec/codec.js";
import { FleetLock } from "../core/fleet-lock.js";
import type { ReadRequest } from "../core/read-request.js";
import { HotKeyDetector } from "../core/hot-keys.js";
import { TieredCache } from "../core/tiered-cache.js";
import { CacheArgumentError, CacheError, UnencodableArgsError } from "../errors.js";
import { canonicalize } from "../key/canonical.js";
import { deriveKey, type KeyScope } from "../key/derive-key.js";
import { Bus } from "../invalidation/bus.js";
import { readDependencies } from "../invalidation/dependencies.js";
import { Versions } from "../invalidation/versions.js";
import { BloomGuard, type BloomPolicy } from "../guard/bloom-guard.js";
import type { ReadPolicy, ResolvedOptions } from "../options.js";
import { Counters } from "../stats/counters.js";
import { CacheEvents } from "../stats/events.js";
import type { FleetStats } from "../stats/fleet-snapshots.js";
import { Observability } from "../stats/observability.js";
import { tracing, type TraceContext } from "../stats/telemetry.js";
import type { WarmHooks, WarmOptions, WarmResult } from "../stats/warm.js";
import { StatsControl, type TopQueriesOptions, type TopQuery } from "./stats-control.js";
import { MemoryStore } from "../stores/memory-store.js";
import { RedisStore } from "../stores/redis-store.js";
import type { CacheQueryOptions, CacheStats } from "../types.js";
import type { PrismaSchema } from "./data-model.js";
import { LazyQuery, withFluentRelations, type Delegates, type PrismaPromiseLike, type QueryRunner } from "./lazy-query.js";
import { encodePrismaArgValue, prismaDecimal } from "./prisma-values.js";
import { splitCacheOption } from "./query-args.js";
import { RawWrite, rawSqlMayWrite } from "./raw-write.js";
import { TRANSACTION_SCOPE, TransactionInvalidations, type ScopedClient, type TransactionFn } from "./transactions.js";
import { WriteNames } from "./write-names.js";
import { NotFoundMarker } from "../codec/not-found.js";
import { notFoundDetail, notFoundError, THROWING_READS, toNotFoundMarker, unwrapNotFound } from "./not-found.js";
import { scanPages } from "./scan.js";


/** Operations whose result may be null for "not found", and which carry Prisma's fluent API. */
const SINGLE_RECORD = new Set(["findUnique", "findFirst", "findUniqueOrThrow", "findFirstOrThrow"]);
const UNIQUE_READS = new Set(["findUnique", "findUniqueOrThrow"]);

export type ExtensionThis = { $name: string; $parent: Delegates & ScopedClient };

/** The `$cache` property of an extended client. */
export interface CacheControl {
  /** Counters since start: hits and misses overall, per tier and per model, invalidations, absorbed failures. */
  stats(): CacheStats;
  /** Invalidates every cached read of the named models, or every entry carrying one of the tags. */
  invalidate(target: { model?: string; models?: readonly string[]; tags?: readonly string[] }): Promise<void>;
  /** Runs a raw statement, invalidating only the models named instead of every model. */
  raw<T>(models: readonly string[], query: PromiseLike<T>): Promise<T>;
  /** Loads the fleet's shared Bloom filters of guarded models, building those that are missing or stale. */
  prepareBloom(): Promise<void>;
  /** Rebuilds the Bloom filter of one guarded model, or of all, by scanning their tables (one builder for the fleet). */
  rebuildBloom(model?: string): Promise<void>;
  /**
   * Replays the most valuable recorded queries (the fleet's statistics) through the read path,
   * filling Redis and this instance's L1: call it at start-up, before reporting ready. Instances
   * warming at once load each query once. Resolves with `{ warmed, failed, skipped, ... }`.
   */
  warm(options?: WarmOptions): Promise<WarmResult>;
  /** The most valuable recorded queries, best first, and whether warm() would replay each. */
  topQueries(options?: TopQueriesOptions): Promise<TopQuery[]>;
  /** The counters of every live instance of this namespace added up; with `countEntries`, Redis entries per model (a SCAN). */
  fleetStats(options?: { countEntries?: boolean }): Promise<FleetStats>;
  /** Sets this instance's counters (`stats()`) back to zero. Recorded query statistics are kept. */
  resetStats(): void;
  /** Hit, miss, stale, invalidation, error and alert events (a Node EventEmitter; hit/miss events cost nothing until listened to). */
  readonly events: CacheEvents;
  /** Resolves when background work started so far is done: refreshes finished, queued invalidations delivered (or still failing). */
  drain(): Promise<void>;
  /** Stops caching (reads pass through), delivers queued invalidations and closes the connection the extension opened; never the caller's Redis. */
  close(): Promise<void>;
}

/** Per-client state: the stores, the counters and the bridge between Prisma calls and the core. */
export class CacheRuntime {
  readonly #options: ResolvedOptions;
  readonly #schema: PrismaSchema;
  readonly #scope: KeyScope;
  readonly #counters = new Counters();
  readonly #l1: MemoryStore | undefined;
  readonly #bus: Bus | undefined;
  readonly #versions: Versions;
  readonly #cache: TieredCache;
  readonly #readClasses = new Map<string, typeof LazyQuery>();
  readonly #writeClasses = new Map<string, typeof LazyQuery>();
  readonly #transactions = new TransactionInvalidations((names) => this.#bump(names));
  readonly #writeNames: WriteNames;
  #closed = false;
  readonly #clientVersion: string;
  /** The client the extension was applied to: scans and counts for Bloom filters run on it. */
  readonly #client: Delegates;
  readonly #guard: BloomGuard | undefined;
  readonly #hotKeys: HotKeyDetector | undefined;
  readonly #events = new CacheEvents();
  readonly #observability: Observability;
  readonly #statsControl: StatsControl;
  /** Reads left until query statistics sample one: counting down is all the hot path does for them. */
  #readsUntilSample: number;
  /** Hooks around `$cache.warm()`: the Bloom guard can build its filters in them. */
  readonly warmHooks: WarmHooks = { beforeWarm: [], afterWarm: [] };

  constructor(options: ResolvedOptions, schema: PrismaSchema, scope: KeyScope, client: Delegates) {
    this.#clientVersion = schema.clientVersion;
    this.#client = client;
    this.#options = options;
    this.#schema = schema;
    this.#scope = scope;
    const report = (error: CacheError) => this.#report(error);
    const store = options.redis === undefined ? undefined : new RedisStore(options.redis, options.redisTimeoutMs);
    const prefix = `{${options.namespace}}`;
    this.#bus =
      options.redis === undefined || store === undefined
        ? undefined
        : new Bus(options.redis, store, prefix, {
            onInvalidation: (seq, names) => {
              this.#counters.invalidationReceived(names);
              this.#versions.invalidated(seq, names);
              this.#guard?.learn(names);
            },
            onLanded: (key, landed) => this.#cache.waiters.wake(key, landed),
            onTrustChange: (trusted) => {
              // Messages may have been missed while the subscription was down: forget what L1 knows.
              this.#l1?.clear();
              this.#versions.forget();
              this.#guard?.distrustAll();
              if (!trusted) this.#counters.bypass("subscription down");
            },
            onError: report,
          });
    this.#versions = new Versions({
      redis: store === undefined || this.#bus === undefined ? undefined : { store, bus: this.#bus, prefix },
      counters: this.#counters,
      report,
      tagTtlMs: Math.ceil(options.maxLifetimeMs) + 60_000,
      ackTimeoutMs: options.ackTimeoutMs,
      maxLocalNames: 100_000,
      bloomGroups: (names) => this.#guard?.groups(names) ?? [],
    });
    this.#guard = this.#createGuard(options, schema, store, prefix, report);
    this.#writeNames = new WriteNames(schema.graph, this.#guard);
    // warm() at deploy also loads (or builds, once for the fleet) the Bloom filters.
    if (this.#guard !== undefined) this.warmHooks.beforeWarm.push(() => this.#guard!.prepare());
    this.#l1 = options.l1 === undefined ? undefined : new MemoryStore(options.l1, options.clock);
    this.#cache = new TieredCache({
      l1: this.#l1,
      l2: store,
      versions: this.#versions,
      lock: store === undefined || this.#bus === undefined ? undefined : new FleetLock(store, options.lockTtlMs, this.#bus.eventsChannel),
      lockTtlMs: options.lockTtlMs,
      earlyRefreshBeta: options.earlyRefreshBeta,
      l1Trusted: () => this.#bus?.trusted ?? true,
      landedMessage: (key) => this.#bus?.landedMessage(key) ?? "",
      nothingLandedMessage: (key) => this.#bus?.nothingLandedMessage(key) ?? "",
      codec: new Codec(prismaDecimal),
      clock: options.clock,
      random: options.random,
      counters: this.#counters,
      report,
      replicas: options.hotKeys?.replicas ?? 1,
    });
    this.#hotKeys = options.hotKeys === undefined ? undefined : new HotKeyDetector({ threshold: options.hotKeys.threshold, windowMs: options.hotKeys.windowMs, sampleEvery: 8, topK: 20 }, options.clock);
    this.#observability = new Observability({ options, counters: this.#counters, events: this.#events, fingerprint: scope.fingerprint, argsCodec: new Codec(prismaDecimal), stats: () => this.control.stats(), report });
    this.#readsUntilSample = this.#observability.nextSampleGap();
    this.#statsControl = this.#createStatsControl();
    for (const model of schema.graph.modelNames) {
      const relations = [...(schema.graph.model(model)?.relations.keys() ?? [])];
      const fluentClass = withFluentRelations(relations);
      this.#readClasses.set(model, fluentClass);
      this.#writeClasses.set(model, fluentClass);
    }
  }

  readonly control: CacheControl = {
    stats: () => ({
      ...this.#counters.snapshot(),
      l1Entries: this.#l1?.size ?? 0,
      l1Bytes: this.#l1?.bytes ?? 0,
      pendingInvalidations: this.#versions.pendingCount,
      hotKeys: this.#hotKeys?.top().slice(0, 10) ?? [],
      queryStats: this.#observability.recorderCounts,
    }),
    invalidate: async (target) => {
      const names = this.#explicitTargets(target);
      if (!tracing.invalidate.hasSubscribers) return this.#bump(names);
      return tracing.invalidate.tracePromise(() => this.#bump(names), { namespace: this.#options.namespace, operation: "invalidate", args: target });
    },
    warm: (options) => this.#statsControl.warm(options),
    topQueries: (options) => this.#statsControl.topQueries(options),
    fleetStats: (options) => this.#statsControl.fleetStats(options),
    resetStats: () => this.#statsControl.resetStats(),
    events: this.#events,
    raw: async (models, query) => {
      const names = this.#checkModels(models, "models");
      if (query instanceof RawWrite) query.models = names;
      return query;
    },
    prepareBloom: async () => this.#guard?.prepare(),
    rebuildBloom: async (model) => {
      if (this.#guard === undefined) return;
      const models = model === undefined ? [...this.#options.models].filter(([, p]) => p.bloom).map(([name]) => name) : this.#checkModels([model], "model");
      for (const name of models) {
        if (!this.#guard.guards(name)) throw new CacheArgumentError("model", `model "${name}" has no Bloom guard (set models.${name}.bloom)`);
        await this.#guard.rebuild(name);
      }
    },
    drain: async () => {
      await this.#cache.drain();
      await this.#versions.flush();
      await this.#observability.drain();
    },
    close: async () => {
      this.#closed = true;
      await this.#cache.drain();
      this.#l1?.clear();
      await this.#versions.flush();
      await this.#observability.close();
      await this.#bus?.close();
    },
  };

  /** Bumps versions, adding created identities to this process's Bloom filters first. */
  #bump(names: Iterable<string>): Promise<void> {
    const list = [...names];
    this.#guard?.learn(list);
    return this.#versions.bump(list);
  }

  #createGuard(options: ResolvedOptions, schema: PrismaSchema, store: RedisStore | undefined, prefix: string, report: (error: CacheError) => void): BloomGuard | undefined {
    const policies = new Map<string, BloomPolicy>();
    for (const [model, policy] of options.models) if (policy.bloom !== undefined) policies.set(model, policy.bloom);
    if (policies.size === 0) return undefined;
    return new BloomGuard({
      graph: schema.graph,
      policies,
      versions: this.#versions,
      redis: store === undefined || this.#bus === undefined ? undefined : { store, prefix, channel: this.#bus.eventsChannel, live: () => this.#bus!.live(options.redisTimeoutMs * 20) },
      scan: (model, fields) => scanPages(this.#delegate(this.#client, model), schema.graph.model(model)!.identities[0]!, fields),
      count: async (model) => (await this.#delegate(this.#client, model).count!(undefined)) as number,
      counters: this.#counters,
      clock: options.clock,
      report,
    });
  }

  /** Every read operation on every model comes through here: keep it allocation-light. */
  read(context: ExtensionThis, operation: string, rawArgs: Record<string, unknown> | undefined): unknown {
    const model = context.$name;
    const parent = context.$parent;
    const { args, cache } = splitCacheOption(rawArgs);
    const policy = this.#options.models.get(model);
    if (policy === undefined || this.#closed) return this.#delegate(parent, model)[operation]!(args);
    if (cache === false || parent[TRANSACTION_SCOPE] !== undefined) {
      this.#counters.bypass(cache === false ? "cache: false" : "transaction");
      return this.#delegate(parent, model)[operation]!(args);
    }
    if (cache !== undefined) this.#checkLifetime(policy, cache);
    const QueryClass = SINGLE_RECORD.has(operation) ? this.#readClasses.get(model)! : LazyQuery;
    return new QueryClass(this.#reads, parent, model, operation, args, cache);
  }

  /** Every write goes through here: it runs, then invalidates what it changed before it resolves. */
  write(context: ExtensionThis, operation: string, args: Record<string, unknown> | undefined): unknown {
    return new (this.#writeClasses.get(context.$name)!)(this.#writes, context.$parent, context.$name, operation, args, undefined);
  }

  /** `$transaction`: reads inside bypass the cache; invalidations apply when it commits, before it resolves. */
  transaction(client: ScopedClient, input: unknown, options: unknown, parentTransaction: TransactionFn): Promise<unknown> {
    if (typeof input === "function") return this.#transactions.interactive(client, input as (tx: unknown) => unknown, options, parentTransaction);
    return this.#transactions.batch(client, input as PrismaPromiseLike[], options, parentTransaction, (element, result) => {
      if (element instanceof LazyQuery && element.runner === this.#writes) return this.#writeNames.ofWrite(element.model, element.operation, element.args, result);
      return element instanceof RawWrite ? this.#writeNames.ofModels(element.models) : [];
    });
  }

  /** `$executeRaw` and friends: a raw write invalidates every model unless `$cache.raw()` names them. */
  raw(client: ScopedClient, args: unknown[], parentMethod: (...args: unknown[]) => PrismaPromiseLike, isQuery: boolean): unknown {
    const query = parentMethod.apply(client, args);
    if (isQuery && !rawSqlMayWrite(args)) return query;
    return new RawWrite(query, client, (write) => this.#transactions.apply(this.#writeNames.ofModels(write.models), client));
  }

  readonly #reads: QueryRunner = {
    run: (query) => (tracing.read.hasSubscribers ? this.#traced(tracing.read, query, () => this.#runRead(query)) : this.#runRead(query)),
    passthrough: (query) => this.#passthrough(query),
    fluent: (query, relation, args) => {
      const plain = this.#passthrough(query);
      return (plain[relation] as (args: unknown) => unknown).call(plain, args);
    },
  };

  /** warm()'s replays: the read path, but never sampled (replays would inflate what they replay). */
  readonly #replays: QueryRunner = {
    run: (query) => this.#runRead(query),
    passthrough: (query) => this.#passthrough(query),
    fluent: (query) => this.#passthrough(query),
  };

  readonly #writes: QueryRunner = {
    run: (query) => {
      const run = async () => {
        const result = await this.#passthrough(query);
        await this.#transactions.apply(this.#writeNames.ofWrite(query.model, query.operation, query.args, result), query.$parent);
        return result;
      };
      return tracing.write.hasSubscribers ? this.#traced(tracing.write, query, run) : run();
    },
    passthrough: (query) => this.#passthrough(query),
    fluent: (query, relation, args) => {
      const plain = this.#passthrough(query);
      const related = (plain[relation] as (args: unknown) => PromiseLike<unknown>).call(plain, args);
      // The fluent call returns the relation, not the record: invalidate as if the record were unknown.
      return Promise.resolve(related).then(async (value) => {
        await this.#transactions.apply(this.#writeNames.ofWrite(query.model, query.operation, query.args, undefined), query.$parent);
        return value;
      });
    },
  };

  #runRead(query: LazyQuery): Promise<unknown> {
    const policy = this.#policyFor(query);
    let canonicalArgs: string;
    try {
      canonicalArgs = canonicalize(query.args ?? {}, encodePrismaArgValue);
    } catch (error) {
      if (!(error instanceof UnencodableArgsError)) throw error;
      this.#counters.bypass(`unencodable args: ${error.reason}`);
      return Promise.resolve(this.#passthrough(query));
    }
    const key = deriveKey(this.#scope, query.model, query.operation, canonicalArgs);
    // Query statistics: one decrement per read; the rare sampled read records itself.
    if (--this.#readsUntilSample === 0) this.#sampleRead(query, key);
    const hot = this.#hotKeys?.touch(key) === true;
    const hit = this.#cache.readL1(key, query.model, policy, hot);
    if (hit === undefined) {
      if (this.#guard?.guards(query.model) && UNIQUE_READS.has(query.operation) && this.#guard.check(query.model, query.args?.where) === "absent") {
        return query.operation === "findUnique" ? Promise.resolve(null) : Promise.reject(notFoundError(notFoundDetail(query.model, query.operation), this.#clientVersion));
      }
      const read = this.#cache.readThrough(this.#request(query, key, policy, hot));
      return THROWING_READS.has(query.operation) ? read.then(this.#unwrapNotFound) : read;
    }
    if (hit[1] !== undefined) this.#cache.refreshInBackground(this.#request(query, key, policy, hot), hit[1], hit[2]);
    if (hit[0] instanceof NotFoundMarker) return Promise.reject(notFoundError(hit[0].detail, this.#clientVersion));
    return Promise.resolve(hit[0]);
  }

  readonly #unwrapNotFound = (value: unknown) => unwrapNotFound(value, this.#clientVersion);

  #request(query: LazyQuery, key: string, policy: ReadPolicy, hot: boolean): ReadRequest {
    return {
      key,
      hot,
      model: query.model,
      policy,
      deps: readDependencies(this.#schema.graph, query.model, query.operation, query.args, query.cacheOption?.tags),
      load: THROWING_READS.has(query.operation) ? () => this.#timedLoad(key, query).catch(toNotFoundMarker) : () => this.#timedLoad(key, query),
      isNotFound: SINGLE_RECORD.has(query.operation) ? isNotFound : never,
    };
  }

  #explicitTargets(target: { model?: string; models?: readonly string[]; tags?: readonly string[] }): string[] {
    if (typeof target !== "object" || target === null) throw new CacheArgumentError("target", "expected { model?, models?, tags? }");
    const models = [
      ...(target.model === undefined ? [] : this.#checkModels([target.model], "model")),
      ...(target.models === undefined ? [] : this.#checkModels(target.models, "models")),
    ];
    const tags = target.tags ?? [];
    if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === "string" && tag !== "")) {
      throw new CacheArgumentError("tags", "expected an array of non-empty strings");
    }
    return [...(models.length === 0 ? [] : this.#writeNames.ofModels(models)), ...this.#writeNames.ofTags(tags)];
  }

  #checkModels(models: readonly string[], argument: string): string[] {
    if (!Array.isArray(models)) throw new CacheArgumentError(argument, "expected an array of model names");
    for (const model of models) {
      if (this.#schema.graph.model(model) === undefined) {
        throw new CacheArgumentError(argument, `no model named "${String(model)}" (models: ${this.#schema.graph.modelNames.join(", ")})`);
      }
    }
    return [...models];
  }

  /** A per-query lifetime may not outlive the record tags that protect it. */
  #checkLifetime(policy: ReadPolicy, cache: Exclude<CacheQueryOptions, false>): void {
    const lifetime = ((cache.ttl ?? policy.ttlMs / 1000) + (cache.swr ?? policy.swrMs / 1000)) * 1000 * (1 + policy.jitter);
    if (lifetime > this.#options.maxLifetimeMs) {
      throw new CacheArgumentError("cache.ttl", `ttl + swr (${lifetime / 1000} s with jitter) exceeds maxLifetime (${this.#options.maxLifetimeMs / 1000} s); raise the maxLifetime option`);
    }
  }

  #passthrough(query: LazyQuery): PrismaPromiseLike {
    return this.#delegate(query.$parent, query.model)[query.operation]!(query.args);
  }

  #policyFor(query: LazyQuery): ReadPolicy {
    const policy = this.#options.models.get(query.model)!;
    const override = query.cacheOption;
    if (override === undefined || (override.ttl === undefined && override.swr === undefined)) return policy;
    return {
      ...policy,
      ttlMs: override.ttl === undefined ? policy.ttlMs : override.ttl * 1000,
      swrMs: override.swr === undefined ? policy.swrMs : override.swr * 1000,
    };
  }

  #delegate(parent: Delegates, model: string): Record<string, (args: unknown) => PrismaPromiseLike> {
    return parent[this.#schema.delegateKeys.get(model)!]!;
  }

  /** The 1-in-N read query statistics record; draws the next gap. */
  #sampleRead(query: LazyQuery, key: string): void {
    this.#readsUntilSample = this.#observability.nextSampleGap();
    if (query.runner !== this.#replays) this.#observability.record(key, query);
  }

  /** A database load, timed: statistics weight queries by it and it feeds the load-duration metric. */
  #timedLoad(key: string, query: LazyQuery): Promise<unknown> {
    return this.#observability.timeLoad(key, query.model, query.operation, () => this.#passthrough(query));
  }

  #traced(channel: typeof tracing.read, query: LazyQuery, run: () => Promise<unknown>): Promise<unknown> {
    const context: TraceContext = { namespace: this.#options.namespace, model: query.model, operation: query.operation, args: query.args };
    return channel.tracePromise(run, context);
  }

  #createStatsControl(): StatsControl {
    return new StatsControl({
      options: this.#options,
      fingerprint: this.#scope.fingerprint,
      counters: this.#counters,
      observability: this.#observability,
      hooks: this.warmHooks,
      checkLifetime: (model, cache) => this.#checkLifetime(this.#options.models.get(model)!, cache),
      checkModel: (model, argument) => void this.#checkModels([model], argument),
      ready: async () => this.#bus?.live(this.#options.lockTtlMs),
      replay: (query) => new LazyQuery(this.#replays, this.#client, query.model, query.operation, query.args, query.cache),
      report: (error) => this.#report(error),
    });
  }

  #report(error: CacheError): void {
    this.#events.error(error);
    try {
      this.#options.onError?.(error);
    } catch {
      // A throwing error hook must not turn an absorbed cache failure into a failed query.
    }
  }
}

const isNotFound = (value: unknown) => value === null || value instanceof NotFoundMarker;
const never = () => false;
