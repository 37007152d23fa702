import { Codec } from "../codec/codec.js";
import { FleetLock } from "../core/fleet-lock.js";
import type { ReadRequest } from "../core/read-request.js";
import { HotKeyDetector } from "../core/hot-keys.js";
import { noteServed } from "../core/served-by.js";
import { TieredCache } from "../core/tiered-cache.js";
import { CacheArgumentError, CacheError, UnencodableArgsError } from "../errors.js";
import { canonicalize } from "../key/canonical.js";
import { cacheVariant } from "../key/cache-variant.js";
import { deriveKey, keyScope, type KeyScope } from "../key/derive-key.js";
import { Bus } from "../invalidation/bus.js";
import { L1Lease } from "../invalidation/lease.js";
import { readDependencies } from "../invalidation/dependencies.js";
import { LearnedDependencies } from "../invalidation/learned-dependencies.js";
import { Versions } from "../invalidation/versions.js";
import { WriteAnnouncer } from "../invalidation/write-announcer.js";
import { CircuitBreaker } from "../stores/circuit-breaker.js";
import { closeDelivering } from "./close-delivery.js";
import { BloomGuard, type BloomPolicy } from "../guard/bloom-guard.js";
import type { ReadPolicy, ResolvedOptions } from "../options.js";
import { Counters } from "../stats/counters.js";
import { CacheEvents } from "../stats/events.js";
import type { FleetStats } from "../stats/fleet-snapshots.js";
import type { HeavyHitters } from "../stats/heavy-hitters.js";
import type { QuerySample } from "../stats/query-stats.js";
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
import { FinalArgsProbe } from "./final-args.js";
import { failingRunner } from "./failed-query.js";
import { splitCacheOption, validateCacheOption } from "./query-args.js";
import { fitLifetime } from "../core/lifetime.js";
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

/** The `$cache` property of an extended client; `ModelName` is the type argument given to `cacheExtension`. */
export interface CacheControl<ModelName extends string = string> {
  /** Counters since start: hits and misses overall, per tier and per model, invalidations, absorbed failures. */
  stats(): CacheStats;
  /** Invalidates every cached read of the named models, or every entry carrying one of the tags. */
  invalidate(target: { model?: ModelName; models?: readonly ModelName[]; tags?: readonly string[] }): Promise<void>;
  /** Runs a raw statement, invalidating only the models named instead of every model. */
  raw<T>(models: readonly ModelName[], query: PromiseLike<T>): Promise<T>;
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
  fleetStats(options?: { countEntries?: boolean }): Promise<FleetStats>;
  /** Sets this instance's counters (`stats()`) back to zero. Recorded query statistics are kept. */
  resetStats(): void;
  /** Hit, miss, stale, invalidation, error and alert events (a Node EventEmitter; hit/miss events cost nothing until listened to). */
  readonly events: CacheEvents;
  /** Resolves when background work started so far is done: refreshes finished, queued invalidations delivered (or still failing). */
  drain(): Promise<void>;
  /**
   * Stops caching (reads pass through), delivers queued invalidations (trying for max(2 s, 8 × redisTimeout)) and closes the
   * connection the extension opened; never the caller's Redis. Rejects with `UndeliveredInvalidationsError` (also emitted as an
   * `error` event) if some invalidations could not be delivered.
   */
  close(): Promise<void>;
}

/** Per-client state: the stores, the counters and the bridge between Prisma calls and the core. */
export class CacheRuntime {
  readonly #options: ResolvedOptions;
  readonly #schema: PrismaSchema;
  readonly #scope: KeyScope;
  /** The scope keys are derived in: the schema fingerprint joined with the client's identity. */
  readonly #keyScope: KeyScope;
  readonly #counters = new Counters();
  readonly #l1: MemoryStore | undefined;
  readonly #bus: Bus | undefined;
  /** The right to answer from L1 (Redis mode): renewed by heartbeats on the subscription. */
  readonly #lease: L1Lease | undefined;
  readonly #versions: Versions;
  readonly #cache: TieredCache;
  readonly #readClasses = new Map<string, typeof LazyQuery>();
  readonly #writeClasses = new Map<string, typeof LazyQuery>();
  readonly #announcer: WriteAnnouncer;
  readonly #transactions: TransactionInvalidations;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #writeNames: WriteNames;
  /** Runs loads and writes through one last query hook, to see the arguments other extensions' hooks produced. */
  readonly #probe: FinalArgsProbe;
  readonly #learned = new LearnedDependencies();
  #closed = false;
  readonly #clientVersion: string;
  /** The client the extension was applied to: scans and counts for Bloom filters run on it. */
  readonly #client: Delegates;
  readonly #guard: BloomGuard | undefined;
  readonly #hotKeys: HotKeyDetector | undefined;
  readonly #events = new CacheEvents();
  readonly #observability: Observability;
  readonly #statsControl: StatsControl;
  /** Counts every read for query statistics (what warm() replays); undefined when nothing is recorded. */
  readonly #popularity: HeavyHitters<QuerySample> | undefined;
  /** Hooks around `$cache.warm()`: the Bloom guard can build its filters in them. */
  readonly warmHooks: WarmHooks = { beforeWarm: [], afterWarm: [] };

  constructor(options: ResolvedOptions, schema: PrismaSchema, scope: KeyScope, client: Delegates) {
    this.#clientVersion = schema.clientVersion;
    this.#client = client;
    this.#probe = new FinalArgsProbe(client);
    this.#options = options;
    this.#schema = schema;
    this.#scope = scope;
    this.#keyScope = keyScope(scope);
    const report = (error: CacheError) => this.#report(error);
    const store = options.redis === undefined ? undefined : new RedisStore(options.redis, options.redisTimeoutMs);
    this.#breaker = store === undefined || options.circuitBreaker === undefined ? undefined : this.#createBreaker(store, options);
    const prefix = `{${options.namespace}}`;
    this.#lease = store === undefined ? undefined : new L1Lease(options.lease, () => this.#bus!.ping(), report);
    const rejectedMessage = (channel: string, message: unknown, reason: string) => {
      this.#counters.rejectedMessages++;
      report(new CacheError("E_BAD_MESSAGE", `dropped a message on ${channel}: ${reason} (${describeMessage(message)})`));
      // It may be another version's invalidation: re-check everything against Redis.
      if (channel === this.#bus?.eventsChannel) {
        this.#versions.forget();
        this.#guard?.distrustAll();
      }
    };
    this.#bus =
      options.redis === undefined || store === undefined
        ? undefined
        : new Bus(options.redis, store, prefix, {
            onInvalidation: (_seq, names, own) => {
              this.#counters.invalidationReceived(names);
              if (!own) this.#versions.distrust(names);
              this.#guard?.learn(names);
            },
            onRejected: (channel, message, reason) => rejectedMessage(channel, message, reason),
            onLanded: (key, landed) => this.#cache.waiters.wake(key, landed),
            onTrustChange: (trusted) => {
              // Messages may have been missed while the subscription was down: forget what L1 knows.
              this.#l1?.clear();
              this.#versions.forget();
              this.#guard?.distrustAll();
              if (!trusted) this.#counters.bypass("subscription down");
              if (trusted) this.#lease?.start();
              else this.#lease?.stop();
              // Back: deliver what is queued now rather than at the next backoff step.
              if (trusted) this.#versions.retryNow();
            },
            onError: report,
          }, options.lease.ttlMs);
    this.#versions = new Versions({
      redis: store === undefined || this.#bus === undefined ? undefined : { store, bus: this.#bus, prefix },
      counters: this.#counters,
      report,
      tagTtlMs: Math.ceil(options.maxLifetimeMs) + 60_000,
      ackTimeoutMs: options.ackTimeoutMs,
      leaseTtlMs: options.lease.ttlMs,
      maxLocalNames: 100_000,
      bloomGroups: (names) => this.#guard?.groups(names) ?? [],
      namespaceWide: () => this.#writeNames.ofModels(),
      markTtlMs: Math.ceil(options.maxLifetimeMs) + 60_000,
    });
    this.#announcer = new WriteAnnouncer({ versions: this.#versions, counters: this.#counters, onRedisDown: options.onRedisDownWrites, deliveryWaitMs: options.redisDownWriteWaitMs, enabled: this.#bus !== undefined, bump: (names, token) => this.#bump(names, token) });
    this.#transactions = new TransactionInvalidations(this.#announcer);
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
      redisTimeoutMs: options.redisTimeoutMs,
      earlyRefreshBeta: options.earlyRefreshBeta,
      l1Trusted: this.#lease === undefined ? () => true : () => this.#breaker?.open !== true && this.#lease!.holds(),
      hearingRedis: this.#lease === undefined ? () => true : () => this.#lease!.hearing(),
      redisOpen: () => this.#breaker?.open === true,
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
    this.#popularity = this.#observability.popularity;
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
      circuitOpen: this.#breaker?.open === true,
      hotKeys: this.#hotKeys?.hot().slice(0, 10) ?? [],
      queryStats: this.#observability.recorderCounts,
    }),
    invalidate: async (target) => {
      const names = this.#explicitTargets(target);
      if (!tracing.invalidate.hasSubscribers) return void (await this.#bump(names));
      return void (await tracing.invalidate.tracePromise(() => this.#bump(names), { namespace: this.#options.namespace, operation: "invalidate", args: target }));
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
      const models = model === undefined ? [...this.#options.models].filter(([, p]) => p.bloom).map(([name]) => name) : this.#checkModels([model], "model");
      if (this.#guard === undefined) return;
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
      const abandoned = await this.#cache.close(this.#options.closeTimeoutMs);
      if (abandoned > 0) this.#report(new CacheError("E_CLOSE_TIMEOUT", `close(): ${abandoned} background refresh(es) still running after closeTimeout (${this.#options.closeTimeoutMs} ms) were abandoned; their results are not stored`));
      this.#l1?.clear();
      // Bounded: delivers what is queued or reports it (an error event, a counter, a rejected close()).
      const undelivered = await closeDelivering(this.#versions, this.#options.redisTimeoutMs);
      this.#breaker?.stop();
      await this.#observability.close();
      await this.#bus?.close();
      if (undelivered !== undefined) {
        this.#counters.undeliveredInvalidations += undelivered.names.length;
        this.#report(undelivered);
        throw undelivered;
      }
    },
  };

  /** Bumps versions (confirming an announced write), adding created identities to this process's Bloom filters first. */
  #bump(names: Iterable<string>, confirming?: string): Promise<boolean> {
    const list = [...names];
    this.#guard?.learn(list);
    return this.#versions.bump(list, confirming);
  }

  /** Fails Redis calls fast while Redis keeps failing; L1 is distrusted from the moment it opens until it closed. */
  #createBreaker(store: RedisStore, options: ResolvedOptions): CircuitBreaker {
    const breaker = new CircuitBreaker(options.circuitBreaker!, {
      probe: () => store.probe(),
      onChange: (open) => {
        // Invalidations may be missed while it is open: forget what L1 knows, both ways.
        this.#l1?.clear();
        this.#versions.forget();
        if (open) this.#counters.circuitOpens++;
        else this.#versions.retryNow();
      },
    });
    store.breaker = breaker;
    return breaker;
  }

  #createGuard(options: ResolvedOptions, schema: PrismaSchema, store: RedisStore | undefined, prefix: string, report: (error: CacheError) => void): BloomGuard | undefined {
    const policies = new Map<string, BloomPolicy>();
    for (const [model, policy] of options.models) if (policy.bloom !== undefined) policies.set(model, policy.bloom);
    if (policies.size === 0) return undefined;
    return new BloomGuard({
      graph: schema.graph,
      policies,
      versions: this.#versions,
      // Filters are per database (the client's identity): tenants sharing a namespace have different rows.
      redis: store === undefined || this.#bus === undefined ? undefined : { store, prefix: `${prefix}:${this.#scope.client ?? "-"}`, channel: this.#bus.eventsChannel, live: () => this.#bus!.live(options.redisTimeoutMs * 20) },
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
    let split: ReturnType<typeof splitCacheOption>;
    try {
      split = splitCacheOption(rawArgs);
    } catch (error) {
      // Like Prisma's own validation errors: a rejected query, never a throw at the call.
      const QueryClass = SINGLE_RECORD.has(operation) ? (this.#readClasses.get(model) ?? LazyQuery) : LazyQuery;
      return new QueryClass(failingRunner(error), parent, model, operation, undefined, undefined);
    }
    const { args, cache } = split;
    const policy = this.#options.models.get(model);
    if (policy === undefined || this.#closed) return this.#delegate(parent, model)[operation]!(args);
    if (cache === false || parent[TRANSACTION_SCOPE] !== undefined) {
      this.#counters.bypass(cache === false ? "cache: false" : "transaction");
      return this.#delegate(parent, model)[operation]!(args);
    }
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
    return this.#transactions.batch(
      client,
      input as PrismaPromiseLike[],
      options,
      parentTransaction,
      (element, result) => {
        if (element instanceof LazyQuery && element.runner === this.#writes) return this.#writeNames.ofWrite(element.model, element.operation, element.args, result);
        return element instanceof RawWrite ? this.#writeNames.ofModels(element.models) : [];
      },
      (element) => {
        if (element instanceof LazyQuery && element.runner === this.#writes) return this.#writeNames.announcedByWrite(element.model, element.operation, element.args);
        return element instanceof RawWrite ? this.#writeNames.ofModels(element.models) : [];
      },
    );
  }

  /** `$executeRaw` and friends: a raw write invalidates every model unless `$cache.raw()` names them. */
  raw(client: ScopedClient, args: unknown[], parentMethod: (...args: unknown[]) => PrismaPromiseLike, isQuery: boolean): unknown {
    const query = parentMethod.apply(client, args);
    if (isQuery && !rawSqlMayWrite(args)) return query;
    return new RawWrite(query, client, (write) => this.#announced(client, this.#writeNames.ofModels(write.models), "raw statement", write.query, () => []));
  }

  readonly #reads: QueryRunner = {
    run: (query) => (tracing.read.hasSubscribers ? this.#traced(tracing.read, query, () => this.#runRead(query)) : this.#runRead(query)),
    passthrough: (query) => this.#passthrough(query),
    fluent: (query, relation, args) => {
      const plain = this.#passthrough(query);
      return (plain[relation] as (args: unknown) => unknown).call(plain, args);
    },
  };

  /** warm()'s replays: the read path, but never counted (replays would inflate what they replay). */
  readonly #replays: QueryRunner = {
    run: (query) => this.#runRead(query),
    passthrough: (query) => this.#passthrough(query),
    fluent: (query) => this.#passthrough(query),
  };

  readonly #writes: QueryRunner = {
    run: (query) => {
      const announced = this.#writeNames.announcedByWrite(query.model, query.operation, query.args);
      const run = () => {
        let finalArgs = query.args;
        // Outside transactions the write runs through the final-arguments probe: a nested write another extension adds is seen.
        const inTransaction = (query.parent as ScopedClient)[TRANSACTION_SCOPE] !== undefined;
        const delegateKey = this.#schema.delegateKeys.get(query.model)!;
        // Lazy, like a Prisma query: it starts when #announced awaits it, after the announcement.
        const write: PromiseLike<unknown> = inTransaction
          ? this.#passthrough(query)
          : { then: (resolve, reject) => this.#probe.run(delegateKey, query.model, query.operation, query.args, (args) => (finalArgs = args)).then(resolve, reject) };
        return this.#announced(query.parent, announced, query.model, write, (result) => {
          const names = this.#writeNames.ofWrite(query.model, query.operation, query.args, result);
          if (finalArgs !== query.args) for (const name of this.#writeNames.ofWrite(query.model, query.operation, finalArgs, result)) names.add(name);
          return names;
        });
      };
      return tracing.write.hasSubscribers ? this.#traced(tracing.write, query, run) : run();
    },
    passthrough: (query) => this.#passthrough(query),
    fluent: (query, relation, args) => {
      const plain = this.#passthrough(query);
      const related = (plain[relation] as (args: unknown) => PromiseLike<unknown>).call(plain, args);
      // The fluent call returns the relation, not the record: invalidate as if the record were unknown.
      const announced = this.#writeNames.announcedByWrite(query.model, query.operation, query.args);
      return this.#announced(query.parent, announced, query.model, related, () => this.#writeNames.ofWrite(query.model, query.operation, query.args, undefined));
    },
  };

  /**
   * One write outside a transaction: announce what its arguments name, run it (awaiting the lazy
   * Prisma query starts it), then confirm what it changed before resolving. Inside an
   * interactive transaction the announcement waits for the callback to return (see transactions.ts).
   */
  async #announced(client: ScopedClient, announced: Iterable<string>, what: string, write: PromiseLike<unknown>, effects: (result: unknown) => Iterable<string>): Promise<unknown> {
    const announcement = this.#transactions.inTransaction(client) ? undefined : await this.#announcer.announce(announced, what);
    let result: unknown;
    try {
      result = await write;
    } catch (error) {
      // Failed: remove its marks (the bump only over-invalidates), then rethrow.
      if (announcement !== undefined) await this.#announcer.confirm(announced, announcement);
      throw error;
    }
    const names = new Set(effects(result));
    for (const name of announced) names.add(name);
    await this.#transactions.apply(names, client, announcement);
    return result;
  }

  #runRead(query: LazyQuery): Promise<unknown> {
    const policy = this.#policyFor(query);
    let canonicalArgs: string;
    try {
      canonicalArgs = canonicalize(query.args ?? {}, encodePrismaArgValue);
      if (query.cacheOption !== undefined) canonicalArgs = cacheVariant(query.cacheOption) + canonicalArgs;
    } catch (error) {
      if (!(error instanceof UnencodableArgsError)) throw error;
      this.#counters.bypass(`unencodable args: ${error.reason}`);
      return Promise.resolve(this.#passthrough(query));
    }
    const key = deriveKey(this.#keyScope, query.model, query.operation, canonicalArgs);
    // Query statistics: one Map lookup and increment per read; warm()'s replays would inflate what they replay.
    if (query.runner !== this.#replays) this.#popularity?.add(key, query);
    if (query.served !== undefined) query.served.key = key;
    const hot = this.#hotKeys?.touch(key) === true;
    const hit = this.#cache.readL1(key, query.model, policy, hot);
    if (hit === undefined) {
      if (this.#guard?.guards(query.model) && UNIQUE_READS.has(query.operation) && this.#guard.check(query.model, query.args?.where) === "absent") {
        if (query.served !== undefined) noteServed(query.served, "bloom", false, undefined);
        return query.operation === "findUnique" ? Promise.resolve(null) : Promise.reject(notFoundError(notFoundDetail(query.model, query.operation), this.#clientVersion));
      }
      const read = this.#cache.readThrough(this.#request(query, key, policy, hot));
      return THROWING_READS.has(query.operation) ? read.then(this.#unwrapNotFound) : read;
    }
    if (query.served !== undefined) noteServed(query.served, "l1", hit[1] === "stale", hit[2]);
    if (hit[1] !== undefined) this.#cache.refreshInBackground(this.#request(query, key, policy, hot), hit[1], hit[2]);
    if (hit[0] instanceof NotFoundMarker) return Promise.reject(notFoundError(hit[0].detail, this.#clientVersion));
    return Promise.resolve(hit[0]);
  }

  readonly #unwrapNotFound = (value: unknown) => unwrapNotFound(value, this.#clientVersion);

  #request(query: LazyQuery, key: string, policy: ReadPolicy, hot: boolean): ReadRequest {
    const { model, operation } = query;
    const tags = query.cacheOption?.tags;
    const deps = this.#learned.withLearned(model, operation, readDependencies(this.#schema.graph, model, operation, query.args, tags));
    // Another extension's query hook may make the query that runs reach more than the caller's arguments.
    let ranAsPredicted = true;
    const onFinalArgs = (finalArgs: Record<string, unknown> | undefined) => {
      try {
        ranAsPredicted = finalArgs === query.args || this.#learned.covers(model, operation, deps, readDependencies(this.#schema.graph, model, operation, finalArgs, tags));
      } catch {
        // Arguments no walk can read: serve the result, store nothing. Never fail the read.
        ranAsPredicted = false;
      }
    };
    const load = () => this.#timedLoad(key, query, onFinalArgs);
    return {
      key,
      hot,
      model,
      policy,
      deps,
      load: THROWING_READS.has(operation) ? () => load().catch(toNotFoundMarker) : load,
      isNotFound: SINGLE_RECORD.has(operation) ? isNotFound : never,
      mayStore: () => ranAsPredicted,
      served: query.served,
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

  #passthrough(query: LazyQuery): PrismaPromiseLike {
    return this.#delegate(query.parent, query.model)[query.operation]!(query.args);
  }

  #policyFor(query: LazyQuery): ReadPolicy {
    const policy = this.#options.models.get(query.model)!;
    const override = query.cacheOption;
    if (override === undefined || (override.ttl === undefined && override.swr === undefined)) return policy;
    const ttlMs = override.ttl === undefined ? policy.ttlMs : override.ttl * 1000;
    const swrMs = override.swr === undefined ? policy.swrMs : override.swr * 1000;
    const fitted = fitLifetime(ttlMs, swrMs, policy.jitter, this.#options.maxLifetimeMs);
    if (fitted.clamped) this.#counters.clamp("cache.ttl + cache.swr above maxLifetime");
    // "Not found" is kept no longer than the query asked its results to be fresh.
    const negativeTtlMs = override.ttl === undefined ? policy.negativeTtlMs : Math.min(policy.negativeTtlMs, fitted.ttlMs);
    return { ...policy, ttlMs: fitted.ttlMs, swrMs: fitted.swrMs, negativeTtlMs };
  }

  #delegate(parent: Delegates, model: string): Record<string, (args: unknown) => PrismaPromiseLike> {
    return parent[this.#schema.delegateKeys.get(model)!]!;
  }

  /** A database load, timed: statistics weight queries by it and it feeds the load-duration metric. */
  #timedLoad(key: string, query: LazyQuery, onFinalArgs: (args: Record<string, unknown> | undefined) => void): Promise<unknown> {
    return this.#observability.timeLoad(query, () => this.#probe.run(this.#schema.delegateKeys.get(query.model)!, query.model, query.operation, query.args, onFinalArgs));
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
      checkLifetime: (_model, cache) => void validateCacheOption(cache),
      checkModel: (model, argument) => void this.#checkModels([model], argument),
      ready: async () => this.#bus?.live(this.#options.lockTtlMs),
      replay: (query) => new LazyQuery(this.#replays, this.#client, query.model, query.operation, query.args, query.cache),
      report: (error) => this.#report(error),
      localStats: () => this.control.stats(),
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

/** A rejected message as an error report shows it: its start, JSON-quoted. */
function describeMessage(message: unknown): string {
  const text = typeof message === "string" ? message : String(message);
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

const isNotFound = (value: unknown) => value === null || value instanceof NotFoundMarker;
const never = () => false;
