import { performance } from "node:perf_hooks";
import { Codec } from "../codec/codec.js";
import { FleetLock } from "../core/fleet-lock.js";
import { HotKeyDetector } from "../core/hot-keys.js";
import { TieredCache } from "../core/tiered-cache.js";
import { CacheError, CacheStoreError, plainMessage } from "../errors.js";
import { clientFreeKey, keyScope, type KeyScope } from "../key/derive-key.js";
import { Bus } from "../invalidation/bus.js";
import type { OrphanedWrite } from "../invalidation/instance-registry.js";
import { schemaEpoch } from "../invalidation/dependencies.js";
import { L1Lease } from "../invalidation/lease.js";
import { Versions } from "../invalidation/versions.js";
import { WriteAnnouncer } from "../invalidation/write-announcer.js";
import { CircuitBreaker } from "../stores/circuit-breaker.js";
import type { ServerIdentity } from "../stores/server-identity.js";
import { watchClusterRollback, watchServerIdentity, type RollbackWatch } from "../invalidation/server-fence.js";
import { BloomGuard, type BloomPolicy } from "../guard/bloom-guard.js";
import { BloomWrites } from "../guard/bloom-writes.js";
import type { ResolvedOptions } from "../options.js";
import { Counters } from "../stats/counters.js";
import { CacheEvents } from "../stats/events.js";
import { Observability } from "../stats/observability.js";
import { ReportThrottle } from "../stats/report-throttle.js";
import type { WarmHooks } from "../stats/warm.js";
import { StatsControl } from "./stats-control.js";
import { MemoryStore } from "../stores/memory-store.js";
import { openCommandConnection, type CommandConnection } from "../stores/command-connection.js";
import { RedisStore } from "../stores/redis-store.js";
import { selectableFieldsOf, type PrismaSchema } from "./data-model.js";
import { checkModels, createCacheControl, type CacheControl } from "./cache-control.js";
import { delegateOf, type ExtensionThis } from "./delegates.js";
import { fluentClassesOf, type Delegates, type PrismaPromiseLike } from "./lazy-query.js";
import { cacheOpened } from "./open-caches.js";
import { prismaDecimal } from "./prisma-values.js";
import { FinalArgsProbe } from "./final-args.js";
import { validateCacheOption } from "./query-args.js";
import { ReadPath } from "./read-path.js";
import type { ScopedClient, TransactionFn } from "./transactions.js";
import { WritePath } from "./write-path.js";
import { WriteNames } from "./write-names.js";
import { modelsWithComputedIdentities, refuseBloomOverComputedIdentities } from "./computed-fields.js";
import { scanPages } from "./scan.js";
import type { RedisLike } from "../types.js";
import { isThenable } from "../core/thenable.js";

export type { CacheControl } from "./cache-control.js";
export type { ExtensionThis } from "./delegates.js";

/**
 * Per-client wiring: builds the stores, the invalidation machinery and the counters, and owns the
 * parts that do the work — the read path (read-path.ts), the write path with transactions and raw
 * SQL (write-path.ts) and `$cache` (cache-control.ts).
 */
export class CacheRuntime {
  readonly #options: ResolvedOptions;
  readonly #schema: PrismaSchema;
  readonly #scope: KeyScope;
  /** Which rows the client reads (its hashed database identity, "-" when unknown): filters and the schema epoch are per database. */
  readonly #database: string;
  /** The version name of this client's schema epoch (its database's: see schemaEpoch). */
  readonly #schemaEpoch: string;
  readonly #counters = new Counters();
  /** Keeps one Redis failure repeated by every read from flooding onError (see ReportThrottle). */
  readonly #reports = new ReportThrottle();
  /** Whether onError's own failure was told (process.emitWarning, once). */
  #onErrorFailureTold = false;
  readonly #l1: MemoryStore | undefined;
  readonly #bus: Bus | undefined;
  /** The right to answer from L1 (Redis mode): renewed by heartbeats on the subscription. */
  readonly #lease: L1Lease | undefined;
  readonly #versions: Versions;
  readonly #cache: TieredCache;
  readonly #breaker: CircuitBreaker | undefined;
  /** Which Redis server the commands reach; a new one is fenced before anything is served from it. */
  readonly #identity: ServerIdentity | undefined;
  /** On a Cluster, what fences the namespace when its shard's keys went back (no server identity there). */
  readonly #clusterRollback: RollbackWatch | undefined;
  readonly #writeNames: WriteNames;
  /** The client the extension was applied to: scans and counts for Bloom filters run on it. */
  readonly #client: Delegates;
  readonly #guard: BloomGuard | undefined;
  readonly #bloomWrites: BloomWrites;
  // A failing `error` listener is told to onError alone: through the event it would come back to itself.
  readonly #events = new CacheEvents((error, event) => (event === "error" ? this.#tellOnError(error) : this.#report(error)));
  readonly #readPath: ReadPath;
  readonly #writePath: WritePath;
  /** Hooks around `$cache.warm()`: the Bloom guard can build its filters in them. */
  readonly warmHooks: WarmHooks = { beforeWarm: [], afterWarm: [] };
  /** The `$cache` property of the extended client. */
  readonly control: CacheControl;

  /** Tokens of orphaned writes this instance is sweeping (see #sweepOrphans). */
  readonly #sweeping = new Set<string>();

  /** Counts this cache closed among the process's open ones (see open-caches.ts). */
  readonly #countClosed: (() => void) | undefined;
  /** The cache's own command connection (see command-connection.ts); undefined without Redis. */
  readonly #connection: CommandConnection | undefined;

  constructor(given: ResolvedOptions, schema: PrismaSchema, scope: KeyScope, client: Delegates) {
    this.#client = client;
    this.#schema = schema;
    this.#scope = scope;
    this.#database = scope.database ?? "-";
    this.#schemaEpoch = schemaEpoch(this.#database);
    // Checked before anything opens a connection: a refused configuration leaves nothing behind.
    const computedIdentities = modelsWithComputedIdentities(client, schema);
    refuseBloomOverComputedIdentities(given, computedIdentities);
    const report = (error: CacheError) => this.#report(error);
    // Every command goes through the cache's own connection; the subscriber is duplicated from the given client.
    this.#connection = given.redis === undefined ? undefined : openCommandConnection(given.redis, given.redisTimeoutMs, (error) => report(new CacheStoreError("CONNECT", error.message, { cause: error })));
    const options: ResolvedOptions = this.#connection === undefined ? given : { ...given, redis: this.#connection.redis };
    this.#options = options;
    const store = options.redis === undefined ? undefined : new RedisStore(options.redis, options.redisTimeoutMs);
    this.#breaker = store === undefined || options.circuitBreaker === undefined ? undefined : this.#createBreaker(store, options);
    const prefix = `{${options.namespace}}`;
    this.#lease = store === undefined ? undefined : new L1Lease(options.lease, () => this.#bus!.ping(), report);
    this.#bus = options.redis === undefined || store === undefined ? undefined : this.#createBus(given.redis!, store, prefix, report);
    this.#countClosed = this.#bus === undefined ? undefined : cacheOpened();
    this.#versions = this.#createVersions(store, prefix, report);
    const announcer = new WriteAnnouncer({ versions: this.#versions, counters: this.#counters, onRedisDown: options.onRedisDownWrites, deliveryWaitMs: options.redisDownWriteWaitMs, lateCommitWindowMs: options.lateCommitWindowMs, enabled: this.#bus !== undefined, bump: (names, token, addsIdentities, waitIfQueued, onTaken) => this.#bump(names, token, addsIdentities, waitIfQueued, onTaken) });
    // Filters are per database: tenants sharing a namespace have different rows (but clients of one
    // database that differ in omit, computed fields, hooks or connection options share one).
    const bloomPrefix = store === undefined || this.#bus === undefined ? undefined : `${prefix}:${this.#database}`;
    this.#guard = this.#createGuard(options, schema, store, bloomPrefix, report);
    // Every instance's writes keep the fleet's filters whole, whichever models it guards itself.
    this.#bloomWrites = new BloomWrites(schema.graph, bloomPrefix);
    this.#writeNames = new WriteNames(schema.graph, this.#bloomWrites, [...computedIdentities.keys()]);
    // warm() at deploy also loads (or builds, once for the fleet) the Bloom filters.
    if (this.#guard !== undefined) this.warmHooks.beforeWarm.push(() => this.#guard!.prepare());
    this.#l1 = options.l1 === undefined ? undefined : new MemoryStore(options.l1, options.clock);
    const fenceParts = store === undefined || this.#bus === undefined ? undefined : { redis: options.redis!, store, prefix, versions: this.#versions, l1: this.#l1, guard: () => this.#guard, bus: this.#bus, counters: this.#counters, report };
    this.#identity = fenceParts === undefined ? undefined : watchServerIdentity(fenceParts);
    this.#clusterRollback = fenceParts === undefined ? undefined : watchClusterRollback(fenceParts);
    this.#cache = this.#createTieredCache(store, report);
    const hotKeys = options.hotKeys === undefined ? undefined : new HotKeyDetector({ threshold: options.hotKeys.threshold, windowMs: options.hotKeys.windowMs, sampleEvery: 8, topK: 20 }, options.clock, options.random);
    const observability = new Observability({ options, counters: this.#counters, events: this.#events, fingerprint: scope.fingerprint, queryKeyOf: (key) => clientFreeKey(scope, key), argsCodec: new Codec(prismaDecimal, { exact: false }), stats: () => this.control.stats(), report });
    const statsControl = this.#createStatsControl(observability);
    // One final-arguments probe and one query class per model, shared by reads and writes.
    const probe = new FinalArgsProbe(client);
    const fluentClasses = fluentClassesOf(schema);
    this.#readPath = new ReadPath({ options, schema, keyScope: keyScope(scope), counters: this.#counters, cache: this.#cache, guard: this.#guard, hotKeys, observability, probe, fluentClasses, client, schemaEpoch: this.#schemaEpoch });
    // A transaction client of this cache's client shows its `$cache`; one of the client below it does not.
    const carriesCache = (tx: object) => (tx as { $cache?: unknown }).$cache === this.control;
    this.#writePath = new WritePath({ namespace: options.namespace, schema, announcer, writeNames: this.#writeNames, probe, fluentClasses, carriesCache, report });
    this.control = this.#createControl(hotKeys, observability, statsControl, announcer);
  }

  /** Every read operation on every model comes through here: keep it allocation-light. */
  read(context: ExtensionThis, operation: string, rawArgs: Record<string, unknown> | undefined): unknown {
    return this.#readPath.read(context, operation, rawArgs);
  }

  /** Every write goes through here: it runs, then invalidates what it changed before it resolves. */
  write(context: ExtensionThis, operation: string, args: Record<string, unknown> | undefined): unknown {
    return this.#writePath.write(context, operation, args);
  }

  /** `$transaction`: reads inside bypass the cache; invalidations apply when it commits, before it resolves. */
  transaction(client: ScopedClient, input: unknown, options: unknown, parentTransaction: TransactionFn): Promise<unknown> {
    return this.#writePath.transaction(client, input, options, parentTransaction);
  }

  /** `$executeRaw` and friends: a raw write invalidates every model unless `$cache.raw()` names them. */
  raw(client: ScopedClient, args: unknown[], parentMethod: (...args: unknown[]) => PrismaPromiseLike, isQuery: boolean): unknown {
    return this.#writePath.raw(client, args, parentMethod, isQuery);
  }

  #createVersions(store: RedisStore | undefined, prefix: string, report: (error: CacheError) => void): Versions {
    const options = this.#options;
    return new Versions({
      redis: store === undefined || this.#bus === undefined ? undefined : { store, bus: this.#bus, prefix },
      counters: this.#counters,
      report,
      tagTtlMs: Math.ceil(options.maxLifetimeMs) + 60_000,
      ackTimeoutMs: options.ackTimeoutMs,
      leaseTtlMs: options.lease.ttlMs,
      maxLocalNames: 100_000,
      bloomGroups: (names) => this.#bloomWrites.groups(names),
      namespaceWide: () => this.#writeNames.ofModels(),
      markTtlMs: Math.ceil(options.maxLifetimeMs) + 60_000,
      sweepWith: (announced) => this.#writeNames.ofAbandoned(announced),
    });
  }

  #createControl(hotKeys: HotKeyDetector | undefined, observability: Observability, statsControl: StatsControl, announcer: WriteAnnouncer): CacheControl {
    return createCacheControl({
      options: this.#options,
      graph: this.#schema.graph,
      counters: this.#counters,
      events: this.#events,
      l1: this.#l1,
      versions: this.#versions,
      cache: this.#cache,
      breaker: this.#breaker,
      guard: this.#guard,
      hotKeys,
      observability,
      statsControl,
      writeNames: this.#writeNames,
      // As an unannounced write's confirmation: when Redis does not take it, it waits for its delivery
      // (up to redisDownWriteWait, counted in undeliveredWrites), not a lease alone — a Redis that
      // refuses writes but answers PINGs (NOREPLICAS) keeps the other instances' leases and L1 alive
      // until their registrations lapse (an outside probe: 316 stale reads after invalidate() resolved).
      invalidate: (names) => announcer.confirm(names, undefined),
      stopReads: () => this.#readPath.stop(),
      stopWrites: (timeoutMs) => this.#writePath.close(timeoutMs),
      runningWriteNames: () => this.#writePath.runningNames(),
      nameRawStatement: (query, models) => this.#writePath.nameRawStatement(query, models),
      closeBus: async () => {
        this.#identity?.stop();
        this.#clusterRollback?.stop();
        this.#countClosed?.();
        await this.#bus?.close();
        await this.#connection?.release();
      },
      report: (error) => this.#report(error),
    });
  }

  /** The subscription: invalidations, landed loads, and what to forget when it was down. */
  #createBus(givenRedis: RedisLike, store: RedisStore, prefix: string, report: (error: CacheError) => void): Bus {
    return new Bus(givenRedis, store, prefix, {
      onInvalidation: (_seq, names, own) => {
        this.#counters.invalidationReceived(names);
        // Our own bump's identities were learnt when it was sent (those it may have created).
        if (own) return;
        this.#versions.distrust(names);
        // Another writer's names may include identities it created: learn them all (more than it
        // added in Redis only makes this process's filter answer "maybe" more often).
        this.#guard?.learn(names);
      },
      onOrphanedWrites: (orphans) => this.#sweepOrphans(orphans),
      // Redis took a write again: deliver what it refused now, not at the next backoff step (up to 5 s away).
      onRegistered: () => this.#versions.retryNow(),
      onRejected: (channel, message, reason) => {
        this.#counters.rejectedMessages++;
        report(new CacheError("E_BAD_MESSAGE", `dropped a message on ${channel}: ${reason} (${describeMessage(message)})`));
        // It may be another version's invalidation: re-check everything against Redis.
        if (channel === this.#bus?.eventsChannel) {
          this.#versions.forget();
          this.#guard?.distrustAll();
        }
      },
      onLanded: (key, landed) => this.#cache.waiters.wake(key, landed),
      onServer: (runId) => this.#identity?.subscriberOn(runId),
      // Entries loaded before may miss the other schema's writes: L1 must not answer from them (Redis fences its own: the epoch moved).
      onSchemaEpochBumped: () => this.#versions.distrust([this.#schemaEpoch]),
      onTrustChange: (trusted) => {
        if (!trusted) this.#identity?.subscriberLost();
        // Messages may have been missed while the subscription was down: forget what L1 knows.
        this.#l1?.clear();
        this.#versions.forget();
        this.#guard?.distrustAll();
        // (A closing cache's subscription goes down too: its reads are counted as "cache closed".)
        if (!trusted && !this.#readPath.stopped) {
          this.#counters.bypass("subscription down");
          // Said once per drop: it flushes L1, and the server may be the one closing it (an outside probe:
          // a small `client-output-buffer-limit pubsub` dropped every subscriber at each large invalidation, unreported).
          report(new CacheError("E_SUBSCRIPTION_LOST", "the subscription to the namespace's channels dropped: this instance flushed its L1 and serves nothing from it until it has subscribed again (a Redis restart, a network cut, or the server closing the connection: CLIENT KILL, `timeout`, a `client-output-buffer-limit pubsub` below the largest invalidation message)"));
        }
        if (trusted) this.#lease?.start();
        else this.#lease?.stop();
        // Landings published before the subscription was up were heard by nobody here: look again.
        if (trusted) this.#cache.waiters.wakeAll();
        // Back: deliver what is queued now rather than at the next backoff step.
        if (trusted) this.#versions.retryNow();
      },
      onError: report,
    }, this.#options.lease.ttlMs, { fingerprint: this.#scope.fingerprint, database: this.#database });
  }

  #createTieredCache(store: RedisStore | undefined, report: (error: CacheError) => void): TieredCache {
    const options = this.#options;
    return new TieredCache({
      l1: this.#l1,
      l2: store,
      versions: this.#versions,
      lock: store === undefined || this.#bus === undefined ? undefined : new FleetLock(store, options.lockTtlMs, this.#bus.eventsChannel),
      lockTtlMs: options.lockTtlMs,
      redisTimeoutMs: options.redisTimeoutMs,
      earlyRefreshBeta: options.earlyRefreshBeta,
      l1Trusted: this.#l1Trusted,
      registered: () => this.#bus?.registered ?? true,
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
      maxEntryBytes: options.maxEntryBytes,
    });
  }

  /** Bumps versions (confirming an announced write), adding created identities to this process's Bloom filters first. */
  #bump(names: Iterable<string>, confirming?: string, addsIdentities = true, waitIfQueued = true, onTaken?: () => void): Promise<boolean> {
    const list = [...names];
    if (addsIdentities) this.#guard?.learn(list);
    return this.#versions.bump(list, confirming, addsIdentities, waitIfQueued, onTaken);
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

  #createGuard(options: ResolvedOptions, schema: PrismaSchema, store: RedisStore | undefined, bloomPrefix: string | undefined, report: (error: CacheError) => void): BloomGuard | undefined {
    const policies = new Map<string, BloomPolicy>();
    for (const [model, policy] of options.models) if (policy.bloom !== undefined) policies.set(model, policy.bloom);
    if (policies.size === 0) return undefined;
    // The filter holds every identity in the table: read it without other extensions' hooks,
    // which may hide rows (a visibility filter on findMany only) or rewrite values (a masked email).
    // (Prisma's `_originalClient` is the client before any extension, without model delegates: extending it adds them.)
    const original = (this.#client as { _originalClient?: { $extends?(extension: unknown): unknown } })._originalClient;
    const tableClient = (typeof original?.$extends === "function" ? original.$extends({ name: "prisma-cache-shield:table-scan" }) : this.#client) as Delegates;
    return new BloomGuard({
      graph: schema.graph,
      policies,
      versions: this.#versions,
      redis: store === undefined || bloomPrefix === undefined ? undefined : { store, prefix: bloomPrefix, channel: this.#bus!.eventsChannel, ready: () => this.#bus!.live(options.redisTimeoutMs * 20, () => this.#answersFromL1() || this.#bus!.registrationRefused) },
      scan: (model, fields) => scanPages(delegateOf(schema.delegateKeys, tableClient, model), schema.graph.model(model)!.identities[0]!, fields),
      count: async (model) => (await delegateOf(schema.delegateKeys, tableClient, model).count!(undefined)) as number,
      selectable: selectableFieldsOf(schema),
      counters: this.#counters,
      clock: options.clock,
      report,
      trusted: this.#l1Trusted,
      // Without Redis there is no fleet to differ from.
      schemasDiffer: this.#bus === undefined ? () => false : () => this.#bus!.schemasDiffer,
      schemaEpoch: this.#schemaEpoch,
    });
  }

  /**
   * Whether what this process keeps (L1, loads shared between reads, Bloom filter copies) may
   * answer: only while the subscription that renews the lease reaches the server the commands verified.
   */
  readonly #l1Trusted = (bound = Infinity): boolean =>
    this.#lease === undefined ? bound === Infinity || performance.now() < bound : this.#breaker?.open !== true && this.#lease.holds(Math.min(this.#bus!.registeredUntil, bound)) && this.#identity?.agreed !== false;

  /** Whether this process's copies answer now: trusted, and its registration answered (a Bloom filter copy waits for both). */
  readonly #answersFromL1 = (): boolean => this.#l1Trusted() && this.#bus?.schemasDiffer !== undefined;

  #createStatsControl(observability: Observability): StatsControl {
    return new StatsControl({
      options: this.#options,
      fingerprint: this.#scope.fingerprint,
      counters: this.#counters,
      observability,
      hooks: this.warmHooks,
      checkLifetime: (_model, cache) => void validateCacheOption(cache),
      checkModel: (model, argument) => void checkModels(this.#schema.graph, [model], argument),
      schemaModels: () => this.#schema.graph.modelNames,
      ready: async () => {
        const bus = this.#bus;
        if (bus === undefined) return;
        // Until its registration was answered, or is known not to stand (refused: Redis refuses writes).
        await bus.live(this.#options.lockTtlMs, () => bus.schemasDiffer !== undefined || !bus.registered);
        // Nothing a replay loads could be cached: a warm() that counted them warmed would let a cold service report ready (outside probe 111).
        if (!bus.registered) throw new CacheStoreError("EVALSHA", "this instance's registration does not stand (Redis refuses writes, or it lapsed): nothing warm() replays could be cached");
      },
      replay: (query, served) => this.#readPath.replay(query, served),
      report: (error) => this.#report(error),
      localStats: () => this.control.stats(),
    });
  }

  /**
   * Writes whose writer vanished between announcing and confirming them (see REGISTER_INSTANCE):
   * swept as a write of unknown outcome is settled — everything of their models bumped, and
   * marked for `lateCommitWindow`, since such a write may still commit.
   */
  #sweepOrphans(orphans: readonly OrphanedWrite[]): void {
    for (const { token, names } of orphans) {
      // A heartbeat may find it again while its sweep runs.
      if (this.#sweeping.has(token)) continue;
      this.#sweeping.add(token);
      void this.#versions
        .sweep(names, token, this.#options.lateCommitWindowMs)
        .then((swept) => {
          if (swept) this.#counters.abandonedWrites++;
        })
        .finally(() => this.#sweeping.delete(token));
    }
  }

  #report(error: CacheError): void {
    for (const reported of this.#reports.admit(error)) {
      this.#events.error(reported);
      this.#tellOnError(reported);
    }
  }

  #tellOnError(error: CacheError): void {
    try {
      const returned: unknown = this.#options.onError?.(error);
      // An async hook (shipping the error to a log service) that rejects must not crash the process
      // with an unhandled rejection either (outside probe 283: exit 1 at the first absorbed error).
      if (isThenable(returned)) returned.then(undefined, (failure: unknown) => this.#onErrorFailed(failure));
    } catch (failure) {
      // A throwing error hook must not turn an absorbed cache failure into a failed query.
      this.#onErrorFailed(failure);
    }
  }

  /** Tells, once per instance, that `onError` itself failed: it cannot be told through itself. */
  #onErrorFailed(failure: unknown): void {
    if (this.#onErrorFailureTold) return;
    this.#onErrorFailureTold = true;
    process.emitWarning(`the onError hook of prisma-cache-shield failed (${plainMessage(failure)}); later failures of it are not shown`, { code: "PCS_ON_ERROR_FAILED" });
  }
}

/** A rejected message as an error report shows it: its start, JSON-quoted. */
function describeMessage(message: unknown): string {
  const text = typeof message === "string" ? message : String(message);
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
