import { MAX_L1_ENTRIES, MAX_LIFETIME_S, MAX_RECORDED_QUERIES, MAX_SCOPE_LENGTH, MAX_TIMER_MS, MIN_BLOOM_ERROR_RATE } from "./option-limits.js";
import { CacheConfigError, plainMessage, shownValue } from "./errors.js";
import type { CacheError } from "./errors.js";
import { circuitBreakerSettings, redisDownWrites, redisDownWriteWait, type RedisDownWrites } from "./failure-options.js";
import type { CircuitBreakerSettings } from "./stores/circuit-breaker.js";
import type { LowHitRateSettings } from "./stats/hit-rate-alert.js";
import type { QueryStatsSettings } from "./stats/query-stats.js";
import type { CacheExtensionOptions, Clock, ModelCacheOptions, RedisLike, ScopedRead } from "./types.js";

export interface ReadPolicy {
  ttlMs: number;
  swrMs: number;
  jitter: number;
  negativeTtlMs: number;
  useL1: boolean;
  /** Bloom guard settings, when the model has one. */
  bloom?: { errorRate: number; maxAgeMs: number };
  /** Models whose writes change this model's reads (a view's tables), as configured; checked against the schema later. */
  dependsOn?: readonly string[];
}

export interface ResolvedOptions {
  redis: RedisLike | undefined;
  namespace: string;
  /** A static scope joins the client's identity; a function is asked on every cached read (see KeyScope). */
  scope: string | ((read: ScopedRead) => unknown) | undefined;
  models: ReadonlyMap<string, ReadPolicy>;
  l1: { maxEntries: number; maxBytes: number; maxTtlMs: number } | undefined;
  redisTimeoutMs: number;
  /** How long a write waits for every instance to acknowledge its invalidation. */
  ackTimeoutMs: number;
  lockTtlMs: number;
  /** L1 lease: how long an instance may answer from L1 after it last heard from Redis, and its heartbeat. */
  lease: { ttlMs: number; heartbeatMs: number };
  /** How long close() waits for background refreshes before abandoning them. */
  closeTimeoutMs: number;
  earlyRefreshBeta: number;
  hotKeys: { threshold: number; windowMs: number; replicas: number } | undefined;
  /** The longest any entry may live (ttl + swr, jitter included); record tags outlive it. */
  maxLifetimeMs: number;
  onError: ((error: CacheError) => void) | undefined;
  /** Undefined when `queryStats: false`. */
  queryStats: QueryStatsSettings | undefined;
  lowHitRateAlert: LowHitRateSettings | undefined;
  /** Undefined when `circuitBreaker: false`. */
  circuitBreaker: CircuitBreakerSettings | undefined;
  onRedisDownWrites: RedisDownWrites;
  redisDownWriteWaitMs: number;
  /** Models set to `false` or `{ cache: false }` in `models` (checked against the schema like the others). */
  optedOutModels: readonly string[];
  /** The `dependsOn` of models left out of the cache (`{ cache: false, dependsOn }`), checked against the schema later. */
  uncachedDependsOn: ReadonlyMap<string, readonly string[]>;
  /** How long the marks of a write of unknown outcome stand (see WriteAnnouncer.unresolved). */
  lateCommitWindowMs: number;
  /** The largest encoded entry stored in Redis (bytes): a larger one would block the server while it is read and written. */
  maxEntryBytes: number;
  clock: Clock;
  random: () => number;
}

export const DEFAULTS = {
  namespace: "pcs",
  ttl: 60,
  swr: 0,
  jitter: 0.1,
  negativeTtl: 30,
  lateCommitWindow: 30,
  l1MaxEntries: 10_000,
  l1MaxBytes: 64 * 1024 * 1024,
  l1MaxTtl: 60,
  redisTimeout: 250,
  ackTimeout: 200,
  lockTtl: 5_000,
  leaseTtl: 1_000,
  leaseHeartbeat: 250,
  closeTimeout: 2_000,
  maxEntrySize: 4 * 1024 * 1024,
  earlyRefreshBeta: 1,
  statsMaxQueries: 1_000,
  statsHalfLife: 3_600,
  statsFlushInterval: 5_000,
  alertWindow: 60,
  alertMinRequests: 100,
} as const;

export { MAX_LIFETIME_S, MAX_TIMER_MS };
const lifetime = { max: MAX_LIFETIME_S, unit: "s" } as const;
const timer = { max: MAX_TIMER_MS, unit: "ms" } as const;

export const TOP_LEVEL = new Set(["redis", "namespace", "scope", "models", "ttl", "swr", "jitter", "negativeTtl", "l1", "redisTimeout", "ackTimeout", "lockTtl", "lease", "closeTimeout", "maxEntrySize", "earlyRefreshBeta", "hotKeys", "maxLifetime", "onError", "queryStats", "lowHitRateAlert", "circuitBreaker", "onRedisDownWrites", "redisDownWriteWait", "lateCommitWindow", "clock", "random"]);
export const MODEL_LEVEL = new Set(["ttl", "swr", "jitter", "negativeTtl", "l1", "bloom", "dependsOn"]);
const L1_LEVEL = new Set(["maxEntries", "maxBytes", "maxTtl"]);

/** Validates user options and fills defaults. Throws CacheConfigError naming the option at fault. */
export function resolveOptions(input: CacheExtensionOptions): ResolvedOptions {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new CacheConfigError("options", "expected an object");
  rejectUnknown(input, TOP_LEVEL, "");
  const defaults = {
    ttl: nonNegative(input.ttl, "ttl", DEFAULTS.ttl, { positive: true, ...lifetime }),
    swr: nonNegative(input.swr, "swr", DEFAULTS.swr, lifetime),
    jitter: fraction(input.jitter, "jitter", DEFAULTS.jitter),
    negativeTtl: nonNegative(input.negativeTtl, "negativeTtl", DEFAULTS.negativeTtl, lifetime),
  };
  const models = modelPolicies(input.models, defaults, input.l1 !== false);
  // Checked first: an invalid scope is reported as such, not as the bloom it would refuse.
  const resolvedScope = scope(input.scope);
  refuseScopedBloom(resolvedScope, models);
  // Whole milliseconds: the value ends up in Redis `PX` arguments, which take integers only.
  const lifetimeOf = (p: ReadPolicy) => Math.ceil((Math.max(p.ttlMs, p.negativeTtlMs) + p.swrMs) * (1 + p.jitter));
  const longest = Math.max(0, ...[...models.values()].map(lifetimeOf));
  const maxLifetimeMs = maxLifetime(input.maxLifetime, models, lifetimeOf, longest);
  return Object.freeze({
    redis: redisClient(input.redis),
    namespace: namespace(input.namespace),
    scope: resolvedScope,
    models,
    l1: l1Limits(input.l1),
    redisTimeoutMs: nonNegative(input.redisTimeout, "redisTimeout", DEFAULTS.redisTimeout, { positive: true, ...timer }),
    ackTimeoutMs: nonNegative(input.ackTimeout, "ackTimeout", DEFAULTS.ackTimeout, { positive: true, ...timer }),
    lockTtlMs: Math.ceil(nonNegative(input.lockTtl, "lockTtl", DEFAULTS.lockTtl, { positive: true, ...timer })),
    lease: leaseSettings(input.lease),
    closeTimeoutMs: nonNegative(input.closeTimeout, "closeTimeout", DEFAULTS.closeTimeout, timer),
    earlyRefreshBeta: nonNegative(input.earlyRefreshBeta, "earlyRefreshBeta", DEFAULTS.earlyRefreshBeta),
    hotKeys: hotKeyOptions(input.hotKeys),
    maxLifetimeMs,
    onError: optionalFunction(input.onError, "onError") as ResolvedOptions["onError"],
    queryStats: queryStatsSettings(input.queryStats),
    lowHitRateAlert: lowHitRateSettings(input.lowHitRateAlert),
    circuitBreaker: circuitBreakerSettings(input.circuitBreaker),
    onRedisDownWrites: redisDownWrites(input.onRedisDownWrites),
    redisDownWriteWaitMs: redisDownWriteWait(input.redisDownWriteWait),
    optedOutModels: Object.entries(input.models as Record<string, unknown>).filter(([, value]) => isUncachedEntry(value)).map(([name]) => name),
    uncachedDependsOn: uncachedDependencies(input.models as Record<string, unknown>),
    // Never longer than an unconfirmed write's marks stand (markTtlMs in runtime.ts).
    lateCommitWindowMs: Math.ceil(nonNegative(input.lateCommitWindow, "lateCommitWindow", DEFAULTS.lateCommitWindow, { positive: true, max: (maxLifetimeMs + 60_000) / 1000, unit: "s" }) * 1000),
    // Redis's own bound on one value is 512 MiB (proto-max-bulk-len).
    maxEntryBytes: integer(input.maxEntrySize, "maxEntrySize", DEFAULTS.maxEntrySize, 512 * 1024 * 1024),
    clock: clock(input.clock),
    random: checkedRandom(optionalFunction(input.random, "random") as (() => number) | undefined),
  });
}

/**
 * The bound of per-query lifetimes, and how long tag versions live: the longest model lifetime
 * unless set. Set, it must hold every model's own lifetime (an entry must never outlive the
 * versions it recorded): a shorter one is refused, naming the model, not silently raised.
 */
function maxLifetime(value: unknown, models: ReadonlyMap<string, ReadPolicy>, lifetimeOf: (policy: ReadPolicy) => number, longest: number): number {
  if (value === undefined) return longest;
  const ms = Math.ceil(nonNegative(value, "maxLifetime", 0, { positive: true, ...lifetime }) * 1000);
  for (const [name, policy] of models) {
    // A millisecond of slack: both sides are rounded up from products of floating-point numbers.
    if (lifetimeOf(policy) > ms + 1) {
      throw new CacheConfigError(
        "maxLifetime",
        `${String(value)} s is shorter than models.${name}'s lifetime, ${lifetimeOf(policy) / 1000} s (the longer of ttl and negativeTtl, plus swr, stretched by jitter): raise maxLifetime or shorten the model's lifetimes`,
      );
    }
  }
  return ms;
}

/** Checks the configured model names against the data model's, once the client is known. */
export function checkModelNames(models: ReadonlyMap<string, ReadPolicy>, known: readonly string[], optedOut: readonly string[] = []): void {
  // Opted out too: a misspelt `{ AuditLogs: false }` would leave the model it meant cached.
  for (const name of [...models.keys(), ...optedOut]) {
    if (!known.includes(name)) {
      throw new CacheConfigError(`models.${name}`, `no model named "${name}" in the Prisma schema (models: ${known.join(", ")})`);
    }
  }
}

/**
 * A Bloom guard holds a model's record identities, which only the schema's text tells (its ids and
 * uniques): when that could not be read (the parser missing from a bundle, a syntax it rejects),
 * `bloom` is refused rather than left to fail later in `prepareBloom()` (outside probe 157: a
 * `TypeError` with no code).
 */
export function checkBloomNeedsSchema(models: ReadonlyMap<string, ReadPolicy>, inexactReason: string): void {
  for (const [name, policy] of models) {
    if (policy.bloom !== undefined) throw new CacheConfigError(`models.${name}.bloom`, `the Bloom guard needs the schema's ids and unique fields, which could not be read: ${inexactReason}`);
  }
}

type Defaults = { ttl: number; swr: number; jitter: number; negativeTtl: number };

function modelPolicies(models: unknown, defaults: Defaults, l1Enabled: boolean): Map<string, ReadPolicy> {
  if (typeof models !== "object" || models === null || Array.isArray(models)) {
    throw new CacheConfigError("models", "expected an object mapping model names to true or per-model options");
  }
  const policies = new Map<string, ReadPolicy>();
  for (const [name, value] of Object.entries(models as Record<string, unknown>)) {
    // Absent written as `undefined` (exactOptionalPropertyTypes lets callers pass it): not listed.
    if (value === undefined || isUncachedEntry(value)) continue;
    if (value !== true && (typeof value !== "object" || value === null || Array.isArray(value))) {
      throw new CacheConfigError(`models.${name}`, "expected true, false or an object of per-model options");
    }
    const own: ModelCacheOptions = value === true ? {} : (value as ModelCacheOptions);
    const at = `models.${name}`;
    const cache = (own as { cache?: unknown }).cache;
    if (cache !== undefined) throw new CacheConfigError(`${at}.cache`, `expected false (a model left out of the cache, with its dependsOn); a cached model is listed without it, got ${shownValue(cache)}`);
    // `cache: undefined` (an app forwarding an optional option) is no option.
    if (value !== true) rejectUnknown(own, Object.hasOwn(own, "cache") ? new Set([...MODEL_LEVEL, "cache"]) : MODEL_LEVEL, `${at}.`);
    if (own.l1 !== undefined && typeof own.l1 !== "boolean") throw new CacheConfigError(`${at}.l1`, "expected a boolean");
    policies.set(name, {
      ttlMs: nonNegative(own.ttl, `${at}.ttl`, defaults.ttl, { positive: true, ...lifetime }) * 1000,
      swrMs: nonNegative(own.swr, `${at}.swr`, defaults.swr, lifetime) * 1000,
      jitter: fraction(own.jitter, `${at}.jitter`, defaults.jitter),
      negativeTtlMs: nonNegative(own.negativeTtl, `${at}.negativeTtl`, defaults.negativeTtl, lifetime) * 1000,
      useL1: l1Enabled && own.l1 !== false,
      ...bloomPolicy(own.bloom, `${at}.bloom`),
      ...dependsOnList(own.dependsOn, `${at}.dependsOn`),
    });
  }
  return policies;
}

/** `false`, or `{ cache: false, … }`: a model left out of the cache. */
export function isUncachedEntry(value: unknown): boolean {
  // Read as every option is read, inherited members too (outside probe 197: an inherited `cache: false` was refused as "got false").
  return value === false || (typeof value === "object" && value !== null && !Array.isArray(value) && (value as { cache?: unknown }).cache === false);
}

const UNCACHED_MODEL_LEVEL = new Set(["cache", "dependsOn"]);

/** `models.X: { cache: false, dependsOn }`: nothing else applies to a model that is not cached. */
function uncachedDependencies(models: Record<string, unknown>): Map<string, readonly string[]> {
  const declared = new Map<string, readonly string[]>();
  for (const [name, value] of Object.entries(models)) {
    if (value === false || !isUncachedEntry(value)) continue;
    const at = `models.${name}`;
    rejectUnknown(value as object, UNCACHED_MODEL_LEVEL, `${at}.`, "a model left out of the cache (cache: false) takes only dependsOn");
    const { dependsOn } = dependsOnList((value as { dependsOn?: unknown }).dependsOn, `${at}.dependsOn`);
    if (dependsOn !== undefined) declared.set(name, dependsOn);
  }
  return declared;
}

function dependsOnList(value: unknown, option: string): Pick<ReadPolicy, "dependsOn"> {
  if (value === undefined) return {};
  if (!Array.isArray(value) || value.length === 0 || !value.every((item) => typeof item === "string")) {
    throw new CacheConfigError(option, "expected a non-empty array of model names");
  }
  return { dependsOn: Object.freeze([...value]) };
}

/**
 * A model's Bloom filter is one per database, shared by every client of it and built by scanning
 * the table through one of them. A client given a scope of its own sees other rows than its
 * neighbours in ways the cache cannot see (a pool whose connections set a role or a tenant for
 * row-level security): the filter it builds would answer "not found" for the others' rows
 * (outside probe 225: a tenant's own projects, 4 of 5 ids). A scope function serves every tenant
 * through one client, whose table scan sees what all its reads see: allowed.
 */
function refuseScopedBloom(scope: unknown, models: ReadonlyMap<string, ReadPolicy>): void {
  if (typeof scope !== "string") return;
  for (const [name, policy] of models) {
    if (policy.bloom !== undefined) throw new CacheConfigError(`models.${name}.bloom`, `cannot be combined with a static scope: the Bloom filter is shared by every client of the database whatever its scope, and one that sees fewer rows (row-level security set per connection) would build a filter answering "not found" for rows other scopes see; leave bloom off, or serve every tenant through one client with a scope function`);
  }
}

function bloomPolicy(value: unknown, option: string): Pick<ReadPolicy, "bloom"> {
  if (value === undefined || value === false) return {};
  if (value !== true && (typeof value !== "object" || value === null || Array.isArray(value))) throw new CacheConfigError(option, "expected a boolean or { errorRate, maxAge }");
  const own = (value === true ? {} : value) as Record<string, unknown>;
  rejectUnknown(own, new Set(["errorRate", "maxAge"]), `${option}.`);
  const errorRate = own.errorRate === undefined ? 0.01 : own.errorRate;
  if (typeof errorRate !== "number" || !(errorRate >= MIN_BLOOM_ERROR_RATE && errorRate < 1)) throw new CacheConfigError(`${option}.errorRate`, `expected a number from ${MIN_BLOOM_ERROR_RATE} to 1 (exclusive), got ${shownValue(errorRate)}`);
  // Whole milliseconds: Redis takes its filter's lifetime (twice maxAge) in them (outside probe 239: 1e-6 s failed every build).
  return { bloom: { errorRate, maxAgeMs: Math.ceil(nonNegative(own.maxAge, `${option}.maxAge`, 3600, { positive: true, ...lifetime }) * 1000) } };
}

/** Every fill of a hot key writes each replica: beyond a few dozen, a fill costs more than the load it saves. */
const MAX_HOT_KEY_REPLICAS = 64;
/** The sketch counts in 32-bit cells: a threshold it can never reach would turn detection off silently. */
const MAX_HOT_KEY_THRESHOLD = 2 ** 31 - 1;

function hotKeyOptions(value: unknown): ResolvedOptions["hotKeys"] {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))) throw new CacheConfigError("hotKeys", "expected false or { threshold, window, replicas }");
  const own = (value ?? {}) as Record<string, unknown>;
  rejectUnknown(own, new Set(["threshold", "window", "replicas"]), "hotKeys.");
  return {
    threshold: integer(own.threshold, "hotKeys.threshold", 1_000, MAX_HOT_KEY_THRESHOLD),
    windowMs: nonNegative(own.window, "hotKeys.window", 10, { positive: true, max: MAX_TIMER_MS / 1000, unit: "s" }) * 1000,
    replicas: integer(own.replicas, "hotKeys.replicas", 3, MAX_HOT_KEY_REPLICAS),
  };
}

/** A lease shorter than this would lapse between heartbeats on any busy event loop; longer, and a write waits that long for a frozen instance. */
export const LEASE_TTL_RANGE = [50, 60_000] as const;

function leaseSettings(value: unknown): ResolvedOptions["lease"] {
  if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))) throw new CacheConfigError("lease", "expected an object { ttl, heartbeat } (milliseconds)");
  const own = (value ?? {}) as Record<string, unknown>;
  rejectUnknown(own, new Set(["ttl", "heartbeat"]), "lease.");
  const ttlMs = integer(own.ttl, "lease.ttl", DEFAULTS.leaseTtl);
  const [min, max] = LEASE_TTL_RANGE;
  if (ttlMs < min || ttlMs > max) throw new CacheConfigError("lease.ttl", `expected ${min} to ${max} ms, got ${ttlMs}`);
  // Default heartbeat: a quarter of the lease, so three heartbeats may be late before it lapses.
  const heartbeatMs = integer(own.heartbeat, "lease.heartbeat", own.ttl === undefined ? DEFAULTS.leaseHeartbeat : Math.max(10, Math.floor(ttlMs / 4)));
  if (heartbeatMs < 10 || heartbeatMs > ttlMs / 2) {
    throw new CacheConfigError("lease.heartbeat", `expected 10 ms to half of lease.ttl (${Math.floor(ttlMs / 2)} ms), got ${heartbeatMs}`);
  }
  return { ttlMs, heartbeatMs };
}

function l1Limits(value: unknown): ResolvedOptions["l1"] {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))) {
    throw new CacheConfigError("l1", "expected false or an object { maxEntries, maxBytes, maxTtl }");
  }
  const own = (value ?? {}) as Record<string, unknown>;
  rejectUnknown(own, L1_LEVEL, "l1.");
  return {
    maxEntries: integer(own.maxEntries, "l1.maxEntries", DEFAULTS.l1MaxEntries, MAX_L1_ENTRIES),
    maxBytes: integer(own.maxBytes, "l1.maxBytes", DEFAULTS.l1MaxBytes),
    maxTtlMs: nonNegative(own.maxTtl, "l1.maxTtl", DEFAULTS.l1MaxTtl, { positive: true, ...lifetime }) * 1000,
  };
}

function queryStatsSettings(value: unknown): QueryStatsSettings | undefined {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))) {
    throw new CacheConfigError("queryStats", "expected false or an object { sampleRate, maxQueries, halfLife, flushInterval }");
  }
  const own = (value ?? {}) as Record<string, unknown>;
  rejectUnknown(own, new Set(["sampleRate", "maxQueries", "halfLife", "flushInterval"]), "queryStats.");
  const maxQueries = integer(own.maxQueries, "queryStats.maxQueries", DEFAULTS.statsMaxQueries);
  if (maxQueries > MAX_RECORDED_QUERIES) throw new CacheConfigError("queryStats.maxQueries", `expected at most ${MAX_RECORDED_QUERIES}, got ${maxQueries}`);
  const sampleRate = own.sampleRate === undefined ? undefined : fraction(own.sampleRate, "queryStats.sampleRate", 1);
  if (sampleRate !== undefined) warnSampleRateDeprecated();
  return {
    counting: sampleRate !== 0,
    maxQueries,
    // Whole milliseconds: the statistics' retention derived from it is a PEXPIRE argument.
    halfLifeMs: Math.ceil(nonNegative(own.halfLife, "queryStats.halfLife", DEFAULTS.statsHalfLife, { positive: true, ...lifetime }) * 1000),
    flushIntervalMs: integer(own.flushInterval, "queryStats.flushInterval", DEFAULTS.statsFlushInterval, MAX_TIMER_MS),
  };
}

let sampleRateWarned = false;

/** `queryStats.sampleRate` from before every read was counted: 0 still records none, any other rate is ignored. */
function warnSampleRateDeprecated(): void {
  if (sampleRateWarned) return;
  sampleRateWarned = true;
  process.emitWarning("queryStats.sampleRate is deprecated: every read is counted now, so a rate other than 0 is ignored (use queryStats: false to record none).", {
    code: "PCS_DEPRECATED_SAMPLE_RATE",
    type: "DeprecationWarning",
  });
}

function lowHitRateSettings(value: unknown): LowHitRateSettings | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new CacheConfigError("lowHitRateAlert", "expected an object { threshold, window?, minRequests? }");
  const own = value as Record<string, unknown>;
  rejectUnknown(own, new Set(["threshold", "window", "minRequests"]), "lowHitRateAlert.");
  if (own.threshold === undefined) throw new CacheConfigError("lowHitRateAlert.threshold", "required: the hit rate, 0 to 1, below which the alert fires");
  return {
    threshold: fraction(own.threshold, "lowHitRateAlert.threshold", 0),
    windowMs: nonNegative(own.window, "lowHitRateAlert.window", DEFAULTS.alertWindow, { positive: true, max: MAX_TIMER_MS / 1000, unit: "s" }) * 1000,
    minRequests: integer(own.minRequests, "lowHitRateAlert.minRequests", DEFAULTS.alertMinRequests),
  };
}

export function rejectUnknown(value: object, allowed: ReadonlySet<string>, prefix: string, why = "unknown option"): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw new CacheConfigError(`${prefix}${key}`, `${why} (expected one of: ${[...allowed].join(", ")})`);
    }
  }
}

function nonNegative(value: unknown, option: string, fallback: number, rule: { positive?: boolean; max?: number; unit?: string } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (rule.positive && value === 0)) {
    throw new CacheConfigError(option, `expected a ${rule.positive ? "positive" : "non-negative"} finite number, got ${shownValue(value)}`);
  }
  if (rule.max !== undefined && value > rule.max) throw new CacheConfigError(option, `expected at most ${rule.max} ${rule.unit ?? ""}, got ${value}`.replace("  ", " "));
  return value;
}

function integer(value: unknown, option: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new CacheConfigError(option, `expected a positive integer, got ${shownValue(value)}`);
  }
  if (value > max) throw new CacheConfigError(option, `expected at most ${max}, got ${value}`);
  return value;
}

function fraction(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new CacheConfigError(option, `expected a number from 0 to 1, got ${shownValue(value)}`);
  }
  return value;
}

function scope(value: unknown): ResolvedOptions["scope"] {
  if (value === undefined || typeof value === "function") return value as ResolvedOptions["scope"];
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_SCOPE_LENGTH) {
    throw new CacheConfigError("scope", `expected a string of 1-${MAX_SCOPE_LENGTH} characters or a function returning one (or undefined), got ${shownValue(value)}`);
  }
  return value;
}

function namespace(value: unknown): string {
  if (value === undefined) return DEFAULTS.namespace;
  if (typeof value !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new CacheConfigError("namespace", `expected 1-64 characters of [A-Za-z0-9_.-], got ${shownValue(value)}`);
  }
  return value;
}

/**
 * The methods of an ioredis client the cache calls on it. Another client with `get` and `set`
 * (node-redis) was taken, and every later call failed as a Redis failure: the cache silently off,
 * each write waiting `redisDownWriteWait` (outside probe 267).
 */
const IOREDIS_METHODS = ["get", "set", "mget", "del", "pttl", "publish", "evalsha", "eval", "callBuffer", "ping", "zadd", "zrem", "zremrangebyscore", "duplicate"] as const;

function redisClient(value: unknown): RedisLike | undefined {
  if (value === undefined) return undefined;
  const candidate = value as Record<string, unknown> | null;
  if (typeof candidate !== "object" || candidate === null) throw new CacheConfigError("redis", `expected an ioredis Redis or Cluster instance, got ${shownValue(value)}`);
  const missing = IOREDIS_METHODS.filter((method) => typeof candidate[method] !== "function");
  if (missing.length > 0 || typeof candidate.status !== "string") {
    const lacks = missing.length > 0 ? `${missing.map((method) => `${method}()`).join(", ")}` : "a `status`";
    throw new CacheConfigError("redis", `expected an ioredis Redis or Cluster instance (ioredis ≥ 5); this client has no ${lacks} (node-redis and other clients are not supported)`);
  }
  refuseConnectionOptions(value as RedisLike);
  return value as RedisLike;
}

/**
 * ioredis settings under which the cache's commands would not mean what it sends (found by an
 * outside probe, each a stale read): they are refused, naming the setting. A cluster carries
 * them in `options` or in `options.redisOptions`.
 */
function refuseConnectionOptions(redis: RedisLike): void {
  const options = (redis.options ?? {}) as { keyPrefix?: unknown; stringNumbers?: unknown; redisOptions?: { keyPrefix?: unknown; stringNumbers?: unknown } };
  const keyPrefix = options.keyPrefix ?? options.redisOptions?.keyPrefix;
  if (typeof keyPrefix === "string" && keyPrefix !== "") {
    // ioredis prefixes the keys a command names, not the keys a script builds or the channels: instances would not agree.
    throw new CacheConfigError("redis", `the client has keyPrefix ${JSON.stringify(keyPrefix)}, which the cache's scripts and channels cannot follow: give the cache a client without it (\`redis.duplicate({ keyPrefix: "" })\`) and keep caches apart with \`namespace\``);
  }
  if ((options.stringNumbers ?? options.redisOptions?.stringNumbers) === true) {
    throw new CacheConfigError("redis", "the client has stringNumbers: true, which turns the cache's integer replies into strings: give the cache a client without it (`redis.duplicate({ stringNumbers: false })`)");
  }
  // ioredis keeps the subscriptions of a connection in subscriber mode here; such a connection refuses every other command.
  if ((redis as { condition?: { subscriber?: unknown } }).condition?.subscriber) {
    throw new CacheConfigError("redis", "the client is in subscriber mode (it subscribed to a channel) and cannot send the cache's commands: give the cache a client of its own (`redis.duplicate()`)");
  }
}

function clock(value: unknown): Clock {
  if (value === undefined) return Date;
  if (typeof value !== "object" || value === null || typeof (value as Clock).now !== "function") {
    throw new CacheConfigError("clock", "expected an object with a now() method returning milliseconds");
  }
  // Asked once here: one that throws or answers no time would otherwise fail the cache half-built,
  // its connections open and the process kept alive (outside probe 283).
  answerOf("clock", "clock.now()", () => (value as Clock).now(), (now) => typeof now === "number" && Number.isFinite(now), "milliseconds, a finite number");
  return value as Clock;
}

/** The `random` option, asked once here as `clock` is; its first answer is kept for its first use, so a seeded sequence is not shifted. */
function checkedRandom(random: (() => number) | undefined): () => number {
  if (random === undefined) return Math.random;
  let first: number | undefined = answerOf("random", "random()", random, (value) => typeof value === "number" && value >= 0 && value < 1, "a number from 0 up to 1") as number;
  return () => {
    if (first === undefined) return random();
    const value = first;
    first = undefined;
    return value;
  };
}

function answerOf(option: string, call: string, ask: () => unknown, valid: (answer: unknown) => boolean, expected: string): unknown {
  let answer: unknown;
  try {
    answer = ask();
  } catch (error) {
    throw new CacheConfigError(option, `${call} threw: ${plainMessage(error)}`);
  }
  if (!valid(answer)) throw new CacheConfigError(option, `${call} returned ${shownValue(answer)}: expected ${expected}`);
  return answer;
}

function optionalFunction(value: unknown, option: string): unknown {
  if (value !== undefined && typeof value !== "function") throw new CacheConfigError(option, `expected a function, got ${shownValue(value)}`);
  return value;
}
