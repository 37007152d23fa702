import { CacheArgumentError, shownValue } from "../errors.js";
import type { CacheQueryOptions } from "../types.js";
import { isOptionsObject } from "./query-args.js";

/** Prisma Accelerate's per-query `cacheStrategy`: ttl and swr in seconds, and invalidation tags. */
export interface AccelerateCacheStrategy {
  /** Seconds the result is fresh: served from the cache without a database query. */
  readonly ttl?: number;
  /** Seconds after `ttl` during which the stale result is served while one refresh runs. */
  readonly swr?: number;
  /** Up to 5 labels (letters, digits and `_`, at most 64 characters each) for `$accelerate.invalidate({ tags })`. */
  readonly tags?: ReadonlyArray<string>;
}

/** Accelerate's limits on tags, per query and per `invalidate` call. */
export const MAX_TAGS = 5;
export const MAX_TAG_LENGTH = 64;
const TAG_FORMAT = /^[A-Za-z0-9_]+$/;
const STRATEGY_KEYS = new Set(["ttl", "swr", "tags"]);

/**
 * Translates the arguments of an Accelerate-style read into this library's: `cacheStrategy`
 * becomes the `cache` option. As with Accelerate, caching is opt-in per query: without a
 * strategy (or with neither ttl nor swr) the read is not cached.
 */
export function strategyToCacheArgs(args: Record<string, unknown> | undefined, maxLifetime: number): { args: Record<string, unknown>; ttl: number } {
  if (args !== undefined && args !== null && "cache" in args) {
    throw new CacheArgumentError("cache", "the Accelerate mode takes `cacheStrategy: { ttl, swr, tags }`, not `cache`");
  }
  if (args === undefined || args === null || !("cacheStrategy" in args)) return { args: { ...args, cache: false }, ttl: 0 };
  const { cacheStrategy, ...rest } = args;
  const cache = toCacheOption(cacheStrategy);
  if (cache === false) return { args: { ...rest, cache }, ttl: 0 };
  const lifetime = (cache.ttl ?? 0) + (cache.swr ?? 0);
  if (lifetime > maxLifetime) {
    throw new CacheArgumentError("cacheStrategy.ttl", `ttl + swr (${lifetime} s) exceeds maxLifetime (${maxLifetime} s); raise the maxLifetime option of accelerateCompat()`);
  }
  return { args: { ...rest, cache }, ttl: cache.ttl ?? 0 };
}

/** Validates a `cacheStrategy` as Accelerate documents it and maps it to the `cache` option. */
export function toCacheOption(strategy: unknown): CacheQueryOptions {
  if (strategy === undefined) return false;
  // A Map of them, a boxed Number, … read as `{}`: no strategy, silently (outside probe 211).
  if (!isOptionsObject(strategy)) {
    throw new CacheArgumentError("cacheStrategy", "expected an object { ttl?, swr?, tags? }");
  }
  for (const key of Object.keys(strategy)) {
    if (!STRATEGY_KEYS.has(key)) throw new CacheArgumentError(`cacheStrategy.${key}`, "unknown option (expected one of: ttl, swr, tags)");
  }
  const own = strategy as { ttl?: unknown; swr?: unknown; tags?: unknown };
  const ttl = seconds(own.ttl, "cacheStrategy.ttl");
  const swr = seconds(own.swr, "cacheStrategy.swr");
  const tags = own.tags === undefined ? undefined : checkTags(own.tags, "cacheStrategy.tags", 0);
  // Accelerate sends `no-cache` when neither lifetime is set: nothing is cached, tags or not.
  if (ttl === 0 && swr === 0) return false;
  return tags === undefined || tags.length === 0 ? { ttl, swr } : { ttl, swr, tags };
}

/** Tags as Accelerate accepts them: an array of at most 5 (and at least `min`) strings of [A-Za-z0-9_]{1,64}. */
export function checkTags(value: unknown, argument: string, min: number): readonly string[] {
  if (!Array.isArray(value)) throw new CacheArgumentError(argument, "expected an array of strings");
  if (value.length > MAX_TAGS) throw new CacheArgumentError(argument, `at most ${MAX_TAGS} tags are allowed, got ${value.length}`);
  if (value.length < min) throw new CacheArgumentError(argument, `expected at least ${min} tag`);
  value.forEach((tag: unknown, i) => {
    if (typeof tag !== "string" || !TAG_FORMAT.test(tag)) {
      throw new CacheArgumentError(`${argument}[${i}]`, `a tag may contain only letters, digits and underscores, got ${JSON.stringify(tag)}`);
    }
    if (tag.length > MAX_TAG_LENGTH) throw new CacheArgumentError(`${argument}[${i}]`, `a tag may be at most ${MAX_TAG_LENGTH} characters long, got ${tag.length}`);
  });
  return value as string[];
}

/** A lifetime as Accelerate takes it: a whole, non-negative number of seconds; absent means 0. */
function seconds(value: unknown, argument: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new CacheArgumentError(argument, `expected a whole, non-negative number of seconds, got ${shownValue(value)}`);
  }
  return value;
}
