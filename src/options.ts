import { CacheConfigError } from "./errors.js";
import type { CacheError } from "./errors.js";
import { circuitBreakerSettings, redisDownWrites, redisDownWriteWait, type RedisDownWrites } from "./failure-options.js";
import type { CircuitBreakerSettings } from "./stores/circuit-breaker.js";
import type { LowHitRateSettings } from "./stats/hit-rate-alert.js";
import type { QueryStatsSettings } from "./stats/query-stats.js";
import type { CacheExtensionOptions, Clock, ModelCacheOptions, RedisLike } from "./types.js";

export interface ReadPolicy {
  ttlMs: number;
  swrMs: number;
  jitter: number;
  negativeTtlMs: number;
  useL1: boolean;
  /** Bloom guard settings, when the model has one. */
  bloom?: { errorRate: number; maxAgeMs: number };
}

export interface ResolvedOptions {
  redis: RedisLike | undefined;
  namespace: string;
  models: ReadonlyMap<string, ReadPolicy>;
  l1: { maxEntries: number; maxBytes: number; maxTtlMs: number } | undefined;
  redisTimeoutMs: number;
  /** How long a write waits for every instance to acknowledge its invalidation. */
  ackTimeoutMs: number;
  lockTtlMs: number;
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
  clock: Clock;
  random: () => number;
}

export const DEFAULTS = {
  namespace: "pcs",
  ttl: 60,
  swr: 0,
  jitter: 0.1,
  negativeTtl: 30,
  l1MaxEntries: 10_000,
  l1MaxBytes: 64 * 1024 * 1024,
  l1MaxTtl: 60,
  redisTimeout: 250,
  ackTimeout: 200,
  lockTtl: 5_000,
  earlyRefreshBeta: 1,
  statsSampleRate: 0.01,
  statsMaxQueries: 1_000,
  statsHalfLife: 3_600,
  statsFlushInterval: 5_000,
  alertWindow: 60,
  alertMinRequests: 100,
} as const;

const TOP_LEVEL = new Set(["redis", "namespace", "models", "ttl", "swr", "jitter", "negativeTtl", "l1", "redisTimeout", "ackTimeout", "lockTtl", "earlyRefreshBeta", "hotKeys", "maxLifetime", "onError", "queryStats", "lowHitRateAlert", "circuitBreaker", "onRedisDownWrites", "redisDownWriteWait", "clock", "random"]);
const MODEL_LEVEL = new Set(["ttl", "swr", "jitter", "negativeTtl", "l1", "bloom"]);
const L1_LEVEL = new Set(["maxEntries", "maxBytes", "maxTtl"]);

/** Validates user options and fills defaults. Throws CacheConfigError naming the option at fault. */
export function resolveOptions(input: CacheExtensionOptions): ResolvedOptions {
  if (typeof input !== "object" || input === null) throw new CacheConfigError("options", "expected an object");
  rejectUnknown(input, TOP_LEVEL, "");
  const defaults = {
    ttl: nonNegative(input.ttl, "ttl", DEFAULTS.ttl, { positive: true }),
    swr: nonNegative(input.swr, "swr", DEFAULTS.swr),
    jitter: fraction(input.jitter, "jitter", DEFAULTS.jitter),
    negativeTtl: nonNegative(input.negativeTtl, "negativeTtl", DEFAULTS.negativeTtl),
  };
  const models = modelPolicies(input.models, defaults, input.l1 !== false);
  // Whole milliseconds: the value ends up in Redis `PX` arguments, which take integers only.
  const longest = Math.ceil(Math.max(0, ...[...models.values()].map((p) => (Math.max(p.ttlMs, p.negativeTtlMs) + p.swrMs) * (1 + p.jitter))));
  return Object.freeze({
    redis: redisClient(input.redis),
    namespace: namespace(input.namespace),
    models,
    l1: l1Limits(input.l1),
    redisTimeoutMs: nonNegative(input.redisTimeout, "redisTimeout", DEFAULTS.redisTimeout, { positive: true }),
    ackTimeoutMs: nonNegative(input.ackTimeout, "ackTimeout", DEFAULTS.ackTimeout, { positive: true }),
    lockTtlMs: Math.ceil(nonNegative(input.lockTtl, "lockTtl", DEFAULTS.lockTtl, { positive: true })),
    earlyRefreshBeta: nonNegative(input.earlyRefreshBeta, "earlyRefreshBeta", DEFAULTS.earlyRefreshBeta),
    hotKeys: hotKeyOptions(input.hotKeys),
    maxLifetimeMs: Math.max(longest, Math.ceil(nonNegative(input.maxLifetime, "maxLifetime", 0) * 1000)),
    onError: optionalFunction(input.onError, "onError") as ResolvedOptions["onError"],
    queryStats: queryStatsSettings(input.queryStats),
    lowHitRateAlert: lowHitRateSettings(input.lowHitRateAlert),
    circuitBreaker: circuitBreakerSettings(input.circuitBreaker),
    onRedisDownWrites: redisDownWrites(input.onRedisDownWrites),
    redisDownWriteWaitMs: redisDownWriteWait(input.redisDownWriteWait),
    clock: clock(input.clock),
    random: (optionalFunction(input.random, "random") as (() => number) | undefined) ?? Math.random,
  });
}

/** Checks the configured model names against the data model's, once the client is known. */
export function checkModelNames(models: ReadonlyMap<string, ReadPolicy>, known: readonly string[]): void {
  for (const name of models.keys()) {
    if (!known.includes(name)) {
      throw new CacheConfigError(`models.${name}`, `no model named "${name}" in the Prisma schema (models: ${known.join(", ")})`);
    }
  }
}

type Defaults = { ttl: number; swr: number; jitter: number; negativeTtl: number };

function modelPolicies(models: unknown, defaults: Defaults, l1Enabled: boolean): Map<string, ReadPolicy> {
  if (typeof models !== "object" || models === null || Array.isArray(models)) {
    throw new CacheConfigError("models", "expected an object mapping model names to true or per-model options");
  }
  const policies = new Map<string, ReadPolicy>();
  for (const [name, value] of Object.entries(models as Record<string, unknown>)) {
    if (value === false) continue;
    if (value !== true && (typeof value !== "object" || value === null)) {
      throw new CacheConfigError(`models.${name}`, "expected true, false or an object of per-model options");
    }
    const own: ModelCacheOptions = value === true ? {} : (value as ModelCacheOptions);
    const at = `models.${name}`;
    if (value !== true) rejectUnknown(own, MODEL_LEVEL, `${at}.`);
    if (own.l1 !== undefined && typeof own.l1 !== "boolean") throw new CacheConfigError(`${at}.l1`, "expected a boolean");
    policies.set(name, {
      ttlMs: nonNegative(own.ttl, `${at}.ttl`, defaults.ttl, { positive: true }) * 1000,
      swrMs: nonNegative(own.swr, `${at}.swr`, defaults.swr) * 1000,
      jitter: fraction(own.jitter, `${at}.jitter`, defaults.jitter),
      negativeTtlMs: nonNegative(own.negativeTtl, `${at}.negativeTtl`, defaults.negativeTtl) * 1000,
      useL1: l1Enabled && own.l1 !== false,
      ...bloomPolicy(own.bloom, `${at}.bloom`),
    });
  }
  return policies;
}

function bloomPolicy(value: unknown, option: string): Pick<ReadPolicy, "bloom"> {
  if (value === undefined || value === false) return {};
  if (value !== true && (typeof value !== "object" || value === null)) throw new CacheConfigError(option, "expected a boolean or { errorRate, maxAge }");
  const own = (value === true ? {} : value) as Record<string, unknown>;
  rejectUnknown(own, new Set(["errorRate", "maxAge"]), `${option}.`);
  const errorRate = own.errorRate === undefined ? 0.01 : own.errorRate;
  if (typeof errorRate !== "number" || !(errorRate > 0 && errorRate < 1)) throw new CacheConfigError(`${option}.errorRate`, "expected a number between 0 and 1 (exclusive)");
  return { bloom: { errorRate, maxAgeMs: nonNegative(own.maxAge, `${option}.maxAge`, 3600, { positive: true }) * 1000 } };
}

function hotKeyOptions(value: unknown): ResolvedOptions["hotKeys"] {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== "object" || value === null)) throw new CacheConfigError("hotKeys", "expected false or { threshold, window, replicas }");
  const own = (value ?? {}) as Record<string, unknown>;
  rejectUnknown(own, new Set(["threshold", "window", "replicas"]), "hotKeys.");
  return {
    threshold: integer(own.threshold, "hotKeys.threshold", 1_000),
    windowMs: nonNegative(own.window, "hotKeys.window", 10, { positive: true }) * 1000,
    replicas: integer(own.replicas, "hotKeys.replicas", 3),
  };
}

function l1Limits(value: unknown): ResolvedOptions["l1"] {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== "object" || value === null)) {
    throw new CacheConfigError("l1", "expected false or an object { maxEntries, maxBytes, maxTtl }");
  }
  const own = (value ?? {}) as Record<string, unknown>;
  rejectUnknown(own, L1_LEVEL, "l1.");
  return {
    maxEntries: integer(own.maxEntries, "l1.maxEntries", DEFAULTS.l1MaxEntries),
    maxBytes: integer(own.maxBytes, "l1.maxBytes", DEFAULTS.l1MaxBytes),
    maxTtlMs: nonNegative(own.maxTtl, "l1.maxTtl", DEFAULTS.l1MaxTtl, { positive: true }) * 1000,
  };
}

/** Statistics stay bounded: Redis holds at most this many queries per namespace. */
const MAX_RECORDED_QUERIES = 100_000;

function queryStatsSettings(value: unknown): QueryStatsSettings | undefined {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== "object" || value === null)) {
    throw new CacheConfigError("queryStats", "expected false or an object { sampleRate, maxQueries, halfLife, flushInterval }");
  }
  const own = (value ?? {}) as Record<string, unknown>;
  rejectUnknown(own, new Set(["sampleRate", "maxQueries", "halfLife", "flushInterval"]), "queryStats.");
  const maxQueries = integer(own.maxQueries, "queryStats.maxQueries", DEFAULTS.statsMaxQueries);
  if (maxQueries > MAX_RECORDED_QUERIES) throw new CacheConfigError("queryStats.maxQueries", `expected at most ${MAX_RECORDED_QUERIES}, got ${maxQueries}`);
  return {
    sampleRate: fraction(own.sampleRate, "queryStats.sampleRate", DEFAULTS.statsSampleRate),
    maxQueries,
    halfLifeMs: nonNegative(own.halfLife, "queryStats.halfLife", DEFAULTS.statsHalfLife, { positive: true }) * 1000,
    flushIntervalMs: integer(own.flushInterval, "queryStats.flushInterval", DEFAULTS.statsFlushInterval),
  };
}

function lowHitRateSettings(value: unknown): LowHitRateSettings | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) throw new CacheConfigError("lowHitRateAlert", "expected an object { threshold, window?, minRequests? }");
  const own = value as Record<string, unknown>;
  rejectUnknown(own, new Set(["threshold", "window", "minRequests"]), "lowHitRateAlert.");
  if (own.threshold === undefined) throw new CacheConfigError("lowHitRateAlert.threshold", "required: the hit rate, 0 to 1, below which the alert fires");
  return {
    threshold: fraction(own.threshold, "lowHitRateAlert.threshold", 0),
    windowMs: nonNegative(own.window, "lowHitRateAlert.window", DEFAULTS.alertWindow, { positive: true }) * 1000,
    minRequests: integer(own.minRequests, "lowHitRateAlert.minRequests", DEFAULTS.alertMinRequests),
  };
}

function rejectUnknown(value: object, allowed: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw new CacheConfigError(`${prefix}${key}`, `unknown option (expected one of: ${[...allowed].join(", ")})`);
    }
  }
}

function nonNegative(value: unknown, option: string, fallback: number, rule: { positive?: boolean } = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (rule.positive && value === 0)) {
    throw new CacheConfigError(option, `expected a ${rule.positive ? "positive" : "non-negative"} finite number, got ${describe(value)}`);
  }
  return value;
}

function integer(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new CacheConfigError(option, `expected a positive integer, got ${describe(value)}`);
  }
  return value;
}

function fraction(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new CacheConfigError(option, `expected a number from 0 to 1, got ${describe(value)}`);
  }
  return value;
}

function namespace(value: unknown): string {
  if (value === undefined) return DEFAULTS.namespace;
  if (typeof value !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new CacheConfigError("namespace", `expected 1-64 characters of [A-Za-z0-9_.-], got ${describe(value)}`);
  }
  return value;
}

function redisClient(value: unknown): RedisLike | undefined {
  if (value === undefined) return undefined;
  const candidate = value as Partial<RedisLike> | null;
  if (typeof candidate !== "object" || candidate === null || typeof candidate.get !== "function" || typeof candidate.set !== "function") {
    throw new CacheConfigError("redis", "expected an ioredis Redis or Cluster instance");
  }
  return value as RedisLike;
}

function clock(value: unknown): Clock {
  if (value === undefined) return Date;
  if (typeof value !== "object" || value === null || typeof (value as Clock).now !== "function") {
    throw new CacheConfigError("clock", "expected an object with a now() method returning milliseconds");
  }
  return value as Clock;
}

function optionalFunction(value: unknown, option: string): unknown {
  if (value !== undefined && typeof value !== "function") throw new CacheConfigError(option, `expected a function, got ${describe(value)}`);
  return value;
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : typeof value === "object" ? (value === null ? "null" : "an object") : String(value);
}
