import type { CacheError } from "./errors.js";

/** A source of time in milliseconds since the epoch. Injected in tests; defaults to `Date.now`. */
export interface Clock {
  now(): number;
}

/** The subset of an ioredis `Redis` or `Cluster` the cache uses. */
export interface RedisLike {
  readonly status: string;
  readonly isCluster?: boolean | undefined;
  /**
   * ioredis connection options: `db` scopes pub/sub channels (which ignore SELECT). Typed loosely:
   * a `Cluster`'s options share no property with a `Redis`'s, and TypeScript would refuse it.
   */
  readonly options?: object | undefined;
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  set(key: string, value: string | Buffer, mode: "PX", ttlMs: number): Promise<unknown>;
  set(key: string, value: string, mode: "PX", ttlMs: number, condition: "NX"): Promise<unknown>;
  callBuffer(command: string, ...args: Array<string | number>): Promise<unknown>;
  /**
   * EVALSHA/EVAL whose reply keeps bulk strings as Buffers: ioredis has them at run time (not in
   * its types), and they are used when present. `callBuffer("EVALSHA", …)` breaks under
   * `enableAutoPipelining`: the auto-pipeline sends a generic call's first argument as the command.
   */
  evalshaBuffer?(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  evalBuffer?(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  mget(...keys: string[]): Promise<Array<string | null>>;
  pttl(key: string): Promise<number>;
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  publish(channel: string, message: string): Promise<number>;
  /** SCRIPT LOAD: a script whose call was given up on before Redis answered NOSCRIPT is loaded for the next call. */
  script?(subcommand: "LOAD", source: string): Promise<unknown>;
  /** A Cluster's masters: a script is loaded on each (SCRIPT LOAD names no key, so ioredis sends it to any node), and each lists its subscriber connections. */
  nodes?(role: "master"): ReadonlyArray<{ script(subcommand: "LOAD", source: string): Promise<unknown>; callBuffer(command: string, ...args: Array<string | number>): Promise<unknown> }>;
  zadd(key: string, score: number, member: string): Promise<unknown>;
  zrem(key: string, member: string): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
  zremrangebyscore(key: string, min: string, max: number): Promise<unknown>;
  ping(): Promise<unknown>;
  /** INFO: the server's `run_id` tells a failover or a restart (absent on a Cluster: not checked there). */
  info?(section: string): Promise<string>;
  /** Connection events: a reconnection is when the server behind the connection may have changed. */
  on?(event: "ready" | "close" | "end" | "reconnecting", listener: () => void): unknown;
  /**
   * A new connection with the same options: the extension opens one for pub/sub (re-subscribing
   * itself after a reconnection, once it learnt the server's identity) and, on a `Redis`, one per
   * process for its commands (see command-connection.ts), and closes them itself. A `Redis` takes
   * option overrides, a `Cluster` other startup nodes first. Typed to accept either signature as
   * each ioredis major declares it (ioredis 6 types a `Cluster`'s startup nodes and options
   * exactly, which a looser parameter type here would refuse); the cache casts at its calls.
   */
  duplicate(...args: never[]): SubscriberLike;
}

/** The pub/sub side of an ioredis connection. */
export interface SubscriberLike {
  readonly status: string;
  subscribe(...channels: string[]): Promise<unknown>;
  /** INFO before subscribing: which server this connection reached. */
  info?(section: string): Promise<string>;
  /** Allowed in subscribed mode; the lease heartbeat. */
  ping(): Promise<unknown>;
  /** Any command (ioredis): `CLIENT ID` and `CLIENT KILL` before subscribing. */
  call?(command: string, ...args: string[]): Promise<unknown>;
  connect(): Promise<void>;
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  on(event: "ready" | "close" | "end" | "reconnecting", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  quit(): Promise<unknown>;
  /** `reconnect` true: drop the connection and open a new one. */
  disconnect(reconnect?: boolean): void;
}

/** Per-model settings; every field falls back to the global option of the same name. */
export interface ModelCacheOptions<ModelName extends string = string> {
  /** Seconds an entry is fresh. */
  ttl?: number | undefined;
  /** Seconds after `ttl` during which a stale entry may still be served while it is refreshed. */
  swr?: number | undefined;
  /** Fraction by which every TTL written is randomly stretched or shrunk, 0 to 1. */
  jitter?: number | undefined;
  /** Seconds a "not found" result is cached; 0 disables negative caching. */
  negativeTtl?: number | undefined;
  /** Keep this model's entries in the in-process L1 as well as in Redis. @default true */
  l1?: boolean | undefined;
  /**
   * Guard unique reads with a Bloom filter of every record identity: a lookup of an identity
   * that was never seen returns null (or Prisma's not-found error) without Redis or the database.
   * `errorRate` is the target false-positive rate (@default 0.01); `maxAge` (seconds, @default 3600)
   * bounds how long rows written outside the extension can stay invisible before a rebuild.
   */
  bloom?: boolean | { errorRate?: number | undefined; maxAge?: number | undefined } | undefined;
  /**
   * The models whose writes change what this model's reads return: required for a `view`
   * (`ActiveUser: { dependsOn: ["User"] }`), so that writes to its tables invalidate its reads.
   */
  dependsOn?: readonly ModelName[] | undefined;
  /** Only `false` leaves a model out (see UncachedModelOptions); absent on a cached model. */
  cache?: undefined;
}

/**
 * A model left out of the cache whose rows something besides its own writes changes (a trigger
 * on another table): cached reads that include it, or filter on it, then depend on those models
 * too, as they would on a cached model's `dependsOn`.
 */
export interface UncachedModelOptions<ModelName extends string = string> {
  cache: false;
  /** The models whose writes change this model's rows. */
  dependsOn: readonly ModelName[];
}

export interface L1Options {
  /** Most entries held in process memory. @default 10000 */
  maxEntries?: number | undefined;
  /** Most heap bytes L1 may retain: keys, versions and the decoded values, estimated when stored. @default 67108864 (64 MiB) */
  maxBytes?: number | undefined;
  /** Upper bound in seconds on how long an entry lives in L1, whatever its TTL. @default 60 */
  maxTtl?: number | undefined;
}

/**
 * Query statistics, kept in Redis and shared by the fleet: what `$cache.warm()` replays and the
 * CLI's `top` lists. Every read is counted in process (bounded: 2 × `maxQueries` queries); each
 * flush adds the interval's top `maxQueries` to Redis. Bounded: at most `maxQueries` queries per
 * namespace, each with its arguments (up to 4 KiB encoded; longer ones are not recorded). Needs `redis`.
 */
export interface QueryStatsOptions {
  /**
   * @deprecated Every read is counted now (a Map lookup and an increment). `0` still records none
   * (prefer `queryStats: false`); any other value is ignored. Setting it emits a warning once.
   */
  sampleRate?: number | undefined;
  /** Most distinct queries kept per namespace: the top K by decayed popularity × load time. @default 1000 */
  maxQueries?: number | undefined;
  /** Seconds after which a read counts half as much towards a query's popularity. @default 3600 */
  halfLife?: number | undefined;
  /** Milliseconds between writes of this instance's query counts (and of its counters, for the CLI's `stats`) to Redis. @default 5000 */
  flushInterval?: number | undefined;
}

/** An `alert` event when a model's hit rate over a sliding window falls below `threshold`, and another when it recovers. */
export interface LowHitRateAlertOptions {
  /** Hit rate, 0 to 1, below which the alert fires; it clears once the rate is back at or above it. */
  threshold: number;
  /** Seconds of reads the hit rate is computed over. @default 60 */
  window?: number | undefined;
  /** Fewest reads of a model within the window for its rate to fire or clear the alert. @default 100 */
  minRequests?: number | undefined;
}

/** The read a `scope` function is asked about. */
export interface ScopedRead {
  model: string;
  operation: string;
  /** The read's arguments, as the caller gave them (without `cache`): read them, never change them. */
  args: Readonly<Record<string, unknown>> | undefined;
}

/**
 * `ModelName`: the client's model names, for compile-time checks of `models` (and of `$cache`
 * methods that take model names): `cacheExtension<Prisma.ModelName>({ ... })`. Without it any
 * string compiles, and unknown names fail when the extension meets the client.
 */
export interface CacheExtensionOptions<ModelName extends string = string> {
  /**
   * An ioredis client or cluster owned by the caller; omitted, the cache lives in process only.
   * The cache never closes it; from a `Redis` it duplicates its own connections (commands, shared by
   * the process's caches given this client, and one subscriber per cache), which `$cache.close()` closes.
   */
  redis?: RedisLike | undefined;
  /** Prefix of every key the extension writes. @default "pcs" */
  namespace?: string | undefined;
  /**
   * What separates the results of clients that read one namespace with the same code but see
   * different rows, which the cache cannot tell apart by itself: a tenant filter whose tenant id is
   * in a closure or in an `AsyncLocalStorage`. A string (one client per tenant: `org:${orgId}`) or a
   * function called on every cached read (one client for every tenant: `({ model }) =>
   * tenantStore.getStore()?.orgId`), whose result joins the read's key; `undefined` from it shares
   * the entry with every scope (a read whose result is the same for every tenant). The store it
   * reads must not change in place while reads made under it (and the refreshes they start) are in
   * flight: give each tenant's work a context of its own. Asked again around each load, a scope
   * that moved leaves the load unstored and unshared. Writes still invalidate across scopes: a
   * namespace is one cache, so a row every tenant reads stays fresh everywhere.
   */
  scope?: string | ((read: ScopedRead) => string | number | bigint | undefined) | undefined;
  /**
   * The cached models: `true` for the defaults, or per-model settings. Unlisted models are never
   * cached; `{ cache: false, dependsOn }` leaves one uncached while saying what changes its rows,
   * for the cached reads that include it.
   */
  models: { [Model in ModelName]?: boolean | ModelCacheOptions<ModelName> | UncachedModelOptions<ModelName> | undefined };
  /** Seconds an entry is fresh, at most 365 days (as are `swr`, `negativeTtl` and `l1.maxTtl`). @default 60 */
  ttl?: number | undefined;
  /** Seconds a stale entry may be served while refreshing. @default 0 */
  swr?: number | undefined;
  /** TTL jitter as a fraction, 0 to 1. @default 0.1 */
  jitter?: number | undefined;
  /** Seconds a "not found" result is cached; 0 disables. @default 30 */
  negativeTtl?: number | undefined;
  /** In-process cache limits, or `false` to read Redis directly. */
  l1?: L1Options | false | undefined;
  /** Milliseconds a Redis read may take before the query falls through to the database; at most 2^31 − 1, like every option in ms. @default 250 */
  redisTimeout?: number | undefined;
  /**
   * Milliseconds after which a write still missing acknowledgements counts one `invalidationAckTimeouts`;
   * it resolves only once every instance acknowledged or must have lost its L1 lease (`lease.ttl`). @default 200
   */
  ackTimeout?: number | undefined;
  /** Milliseconds a fleet-wide loader lock lives unless its holder extends it; also the cap of a waiter's wait (which follows the model's load times). @default 5000 */
  lockTtl?: number | undefined;
  /**
   * L1 lease (milliseconds): an instance answers from L1 only within `ttl` of a heartbeat (a PING
   * on its invalidation subscription, every `heartbeat`) that Redis answered; a write that some
   * instance did not acknowledge waits until that instance's lease lapsed.
   * @default { ttl: 1000, heartbeat: 250 }
   */
  lease?: { ttl?: number | undefined; heartbeat?: number | undefined } | undefined;
  /** Milliseconds close() waits for background refreshes; stuck ones are abandoned (their results not stored). @default 2000 */
  closeTimeout?: number | undefined;
  /**
   * Bytes: the largest encoded result stored in Redis. A larger one is served (and kept in L1 if it
   * fits `l1.maxBytes`) but not stored in Redis, where reading and writing it would block the server
   * for every client; counted in `stats().oversizeEntries`. At most 512 MiB. @default 4194304 (4 MiB)
   */
  maxEntrySize?: number | undefined;
  /** XFetch β: how eagerly hot entries refresh before they expire; 0 disables early refresh. @default 1 */
  earlyRefreshBeta?: number | undefined;
  /**
   * Hot-key handling, or `false`: a key read more than `threshold` times per `window` seconds
   * (estimated by a sampled count-min sketch) stays in every instance's L1 — even for models with
   * `l1: false` — and is stored under `replicas` Redis keys with distinct hash tags, read at random.
   * @default { threshold: 1000, window: 10, replicas: 3 }
   */
  hotKeys?: false | { threshold?: number | undefined; window?: number | undefined; replicas?: number | undefined } | undefined;
  /**
   * After `threshold` consecutive failed Redis calls (timeouts, connection or auth errors), stop
   * calling Redis: reads go to the database, writes queue their invalidations; a PING every
   * `probeInterval` ms closes the circuit again. `false` disables it.
   * @default { threshold: 5, probeInterval: 500 }
   */
  circuitBreaker?: false | { threshold?: number | undefined; probeInterval?: number | undefined } | undefined;
  /**
   * What a write does when Redis cannot take its announcement (the dirty marks set before the
   * database write): `"proceed"` runs it anyway (counted in `unannouncedWrites`; other instances
   * may serve the old data until its queued invalidation is delivered), `"refuse"` rejects it with
   * a `CacheUnavailableError` before it touches the database. @default "proceed"
   */
  onRedisDownWrites?: "proceed" | "refuse" | undefined;
  /**
   * Milliseconds an unannounced write (`"proceed"`) whose invalidation Redis did not take waits
   * for it to be delivered before resolving anyway (counted in `undeliveredWrites`).
   * @default 5000
   */
  redisDownWriteWait?: number | undefined;
  /**
   * Seconds: how long a write that failed with an unknown outcome (its connection lost after the
   * statement left, a client-side timeout while the server still runs it) may still commit. Its
   * models are read from the database, uncached, that long. Set it to at least your database's
   * `statement_timeout` (plus `lock_timeout`): a statement cannot commit later than that.
   * At most `maxLifetime` + 60. @default 30
   */
  lateCommitWindow?: number | undefined;
  /**
   * Seconds, at most 365 days: the longest a per-query `cache.ttl` + `cache.swr` (jitter included)
   * may keep an entry; a longer one is shortened to fit and counted in `stats().clamps`.
   * @default the longest model ttl + swr
   */
  maxLifetime?: number | undefined;
  /** Called with the errors the cache absorbed (Redis failures, unencodable results); a Redis failure with the same message as one sent less than a second before is counted, not sent again. */
  onError?: ((error: CacheError) => void) | undefined;
  /** Query statistics for `$cache.warm()` and the CLI, or `false` to record none (warm() still replays what other instances recorded). @default { maxQueries: 1000, halfLife: 3600, flushInterval: 5000 } */
  queryStats?: QueryStatsOptions | false | undefined;
  /** Emits `alert` events on `$cache.events` when a model's hit rate drops. @default off */
  lowHitRateAlert?: LowHitRateAlertOptions | undefined;
  /** Time source, for tests. @default Date */
  clock?: Clock | undefined;
  /** Random source in [0, 1), for tests. @default Math.random */
  random?: (() => number) | undefined;
}

/** The per-query `cache` argument: `false` bypasses the cache, an object overrides the model's policy. */
export type CacheQueryOptions =
  | false
  | {
      /** Seconds the result stays fresh, instead of the model's ttl. */
      ttl?: number | undefined;
      /** Seconds it may be served stale while refreshing, instead of the model's swr. */
      swr?: number | undefined;
      /** Labels that `$cache.invalidate({ tags })` can later invalidate this entry by. */
      tags?: readonly string[] | undefined;
    };

export interface ModelStats {
  hits: number;
  misses: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  hitRate: number;
  l1Hits: number;
  l2Hits: number;
  negativeHits: number;
  dbLoads: number;
  /** Reads that joined another read of the same key in this process (its Redis lookup, and its load if it missed): L2 hits and misses alike. */
  coalesced: number;
  /** Fleet-wide loader locks this instance took. */
  lockAcquisitions: number;
  /** Reads that waited for another instance's loader (each once, however often it looked again; one the holder's value then served counts as an L2 hit), and the milliseconds they waited in all. */
  lockWaits: number;
  lockWaitMs: number;
  /** Reads that loaded by themselves after a wait no wake-up ended (the holder dead, frozen or cut off from Redis, or this instance unable to hear Redis): 0 in a healthy fleet. */
  lockWaitTimeouts: number;
  /** Misses that waited for a load of this same instance to land (in process, without Redis), and the milliseconds they waited in all. */
  localLockWaits: number;
  localLockWaitMs: number;
  /** Reads answered with a stale value inside the swr window. */
  staleServes: number;
  /** Background refreshes started by stale serves, and by early (XFetch) refresh. */
  backgroundRefreshes: number;
  earlyRefreshes: number;
  /** Background refreshes that failed; the stale value was kept. */
  refreshFailures: number;
  redisErrors: number;
  redisTimeouts: number;
  encodeFailures: number;
  /** Results larger than `maxEntrySize` encoded: served, not stored in Redis. */
  oversizeEntries: number;
  /** Unique reads a Bloom filter answered "not found" without Redis or the database. */
  bloomRejects: number;
  /** Bloom filters this instance built by scanning a table. */
  bloomBuilds: number;
  /** Lookups of hot keys answered from a replica key (a replica drawn that held nothing servable is not counted). */
  replicaReads: number;
  /** Keys hot in this instance now (estimated reads in the current window ≥ `hotKeys.threshold`), hottest first, at most 10. */
  hotKeys: Array<{ key: string; estimate: number }>;
  /** Loads not stored because a write changed their data while they ran (stale-set fencing). */
  fencedStores: number;
  invalidationsSent: number;
  invalidationsReceived: number;
  /** Invalidations Redis could not take when written; they are retried until delivered. */
  invalidationsQueued: number;
  /** Invalidations some instance did not acknowledge within `ackTimeout`. */
  invalidationAckTimeouts: number;
  /** Pub/sub messages dropped because they do not parse: another version's, or a stray or forged PUBLISH. */
  rejectedMessages: number;
  /** Stored values that failed their checks (truncated, unknown type tag, bad Bloom metadata): read as absent, entries deleted. */
  corruptEntries: number;
  /** Invalidated names not yet delivered to Redis. */
  pendingInvalidations: number;
  /** Invalidation backlogs too long to replay (over 10 000 names), delivered as one namespace-wide bump. */
  invalidationBacklogsCollapsed: number;
  /** Writes that ran although their announcement could not reach Redis (`onRedisDownWrites: "proceed"`): the counted risk. */
  unannouncedWrites: number;
  /** Unannounced writes (and `$cache.invalidate()` calls) that resolved after `redisDownWriteWait` with their invalidation still queued: other instances may serve older data until it is delivered. */
  undeliveredWrites: number;
  /** Writes refused before touching the database because Redis could not take their announcement (`onRedisDownWrites: "refuse"`). */
  refusedWrites: number;
  /**
   * Writes another instance announced and never confirmed — it stopped, or lost Redis, in between —
   * that this instance swept: everything of their models invalidated, read from the database for `lateCommitWindow`.
   */
  abandonedWrites: number;
  /** Invalidated names `close()` could not deliver; each such close() also emits an `error` event naming them. */
  undeliveredInvalidations: number;
  /** Times the circuit breaker opened: Redis calls then fail fast, reads go to the database, until a probe succeeds. */
  circuitOpens: number;
  /** Times the Redis server turned out to be another one than before (a failover, a restart: its `run_id` changed): L1 was flushed and every entry of the namespace invalidated before anything was served from it. */
  redisServerChanges: number;
  /** Whether the circuit breaker is open now. */
  circuitOpen: boolean;
  bypasses: Record<string, number>;
  /** Reads whose lifetime was shortened to fit a bound, by reason (`cache.ttl + cache.swr above maxLifetime`). */
  clamps: Record<string, number>;
  models: Record<string, ModelStats>;
  /** Entries and bytes held in this process's L1. */
  l1Entries: number;
  l1Bytes: number;
  /** Query statistics of this process: reads counted, queries tracked in process now, queries flushed to Redis, queries dropped (unreplayable or too long), flushes Redis refused. */
  queryStats: { counted: number; tracked: number; flushed: number; dropped: number; flushFailures: number };
}
