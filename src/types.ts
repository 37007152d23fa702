import type { CacheError } from "./errors.js";

/** A source of time in milliseconds since the epoch. Injected in tests; defaults to `Date.now`. */
export interface Clock {
  now(): number;
}

/** The subset of an ioredis `Redis` or `Cluster` the cache uses. */
export interface RedisLike {
  readonly status: string;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: "PX", ttlMs: number): Promise<unknown>;
  quit(): Promise<unknown>;
}

/** Per-model settings; every field falls back to the global option of the same name. */
export interface ModelCacheOptions {
  /** Seconds an entry is fresh. */
  ttl?: number;
  /** Seconds after `ttl` during which a stale entry may still be served while it is refreshed. */
  swr?: number;
  /** Fraction by which every TTL written is randomly stretched or shrunk, 0 to 1. */
  jitter?: number;
  /** Seconds a "not found" result is cached; 0 disables negative caching. */
  negativeTtl?: number;
  /** Keep this model's entries in the in-process L1 as well as in Redis. @default true */
  l1?: boolean;
}

export interface L1Options {
  /** Most entries held in process memory. @default 10000 */
  maxEntries?: number;
  /** Most bytes held in process memory (keys and encoded values). @default 67108864 (64 MiB) */
  maxBytes?: number;
  /** Upper bound in seconds on how long an entry lives in L1, whatever its TTL. @default 60 */
  maxTtl?: number;
}

export interface CacheExtensionOptions {
  /** An ioredis client or cluster owned by the caller; omitted, the cache lives in process only. */
  redis?: RedisLike;
  /** Prefix of every key the extension writes. @default "pcs" */
  namespace?: string;
  /** The cached models: `true` for the defaults, or per-model settings. Unlisted models are never cached. */
  models: Record<string, boolean | ModelCacheOptions>;
  /** Seconds an entry is fresh. @default 60 */
  ttl?: number;
  /** Seconds a stale entry may be served while refreshing. @default 0 */
  swr?: number;
  /** TTL jitter as a fraction, 0 to 1. @default 0.1 */
  jitter?: number;
  /** Seconds a "not found" result is cached; 0 disables. @default 30 */
  negativeTtl?: number;
  /** In-process cache limits, or `false` to read Redis directly. */
  l1?: L1Options | false;
  /** Milliseconds a Redis read may take before the query falls through to the database. @default 250 */
  redisTimeout?: number;
  /** Called with every error the cache absorbed (Redis failures, unencodable results). */
  onError?: (error: CacheError) => void;
  /** Time source, for tests. @default Date */
  clock?: Clock;
  /** Random source in [0, 1), for tests. @default Math.random */
  random?: () => number;
}

/** The per-query `cache` argument: `false` bypasses the cache, an object overrides the model's policy. */
export type CacheQueryOptions = false | { ttl?: number; swr?: number };

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
  coalesced: number;
  redisErrors: number;
  redisTimeouts: number;
  encodeFailures: number;
  bypasses: Record<string, number>;
  models: Record<string, ModelStats>;
  /** Entries and bytes held in this process's L1. */
  l1Entries: number;
  l1Bytes: number;
}
