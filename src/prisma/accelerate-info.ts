import { randomUUID } from "node:crypto";
import { newServedBy, type ServedBy, type ServedTier } from "../core/served-by.js";
import type { Clock } from "../types.js";
import { LazyQuery, type PrismaPromiseLike } from "./lazy-query.js";
import { PrismaLikePromise, type BatchTransaction } from "./prisma-like-promise.js";

/** What `withAccelerateInfo()` reports, as Prisma Accelerate's `AccelerateInfo` does, plus the tier. */
export interface AccelerateInfo {
  /**
   * `ttl`: a fresh cache hit, no database query; `swr`: a stale hit inside the swr window, a refresh
   * was started; `miss`: the query had a cache strategy and ran against the database; `none`: the
   * query had no cache strategy (or ran in a transaction, or on a model not cached) and was not cached.
   */
  cacheStatus: "ttl" | "swr" | "miss" | "none";
  /** When the data served was loaded from the database. */
  lastModified: Date;
  /** Always `"self-hosted"`: there are no Accelerate regions. */
  region: string;
  /** A fresh id for each info query. */
  requestId: string;
  /** The cache key of the operation ("unspecified" when it was not cached). */
  signature: string;
  /** Beyond Accelerate: where the result came from — `l1` (in process), `l2` (Redis), `db`, or `bloom` (a Bloom filter answered "never existed"). */
  tier: ServedTier;
}

/** A Prisma promise whose `withAccelerateInfo()` resolves with `{ data, info }` instead of the data. */
export type InfoResult<T> = { data: T; info: AccelerateInfo };

/**
 * The promise `withAccelerateInfo()` returns. Like Accelerate's, it runs the query anew (lazily,
 * once awaited) rather than reusing the promise it was called on, which may have run already.
 */
export class AccelerateInfoQuery extends PrismaLikePromise {
  readonly #start: () => PrismaPromiseLike;
  /** How long before expiry a cached entry was loaded: the query's ttl, or for "not found" (null) what it is kept. */
  readonly #lifetimes: { ttlSeconds: number; notFoundSeconds: number };
  readonly #clock: Clock;

  constructor(start: () => PrismaPromiseLike, lifetimes: { ttlSeconds: number; notFoundSeconds: number }, clock: Clock) {
    super();
    this.#start = start;
    this.#lifetimes = lifetimes;
    this.#clock = clock;
  }

  /** Inside `$transaction([...])` the query joins the batch uncached: its status is `none`. */
  requestTransaction(batch: BatchTransaction): PromiseLike<unknown> {
    const query = this.#start();
    const joined = query.requestTransaction?.(batch) ?? query;
    return Promise.resolve(joined).then((data) => ({ data, info: this.#info(undefined, false) }));
  }

  protected async $execute(): Promise<unknown> {
    const query = this.#start();
    // Only a cached read (a LazyQuery) can report how it was served; anything else bypassed the cache.
    const served = query instanceof LazyQuery && query.$runner.uncached !== true ? (query.$served = newServedBy()) : undefined;
    const data = await query;
    return { data, info: this.#info(served, data === null) };
  }

  #info(served: ServedBy | undefined, notFound: boolean): AccelerateInfo {
    const now = this.#clock.now();
    const tier = served?.tier ?? "db";
    const cacheStatus = served === undefined ? "none" : tier === "db" ? "miss" : served.stale ? "swr" : "ttl";
    const lifetimeSeconds = notFound ? this.#lifetimes.notFoundSeconds : this.#lifetimes.ttlSeconds;
    // Never in the future: with jitter the entry may have been given more than the query's ttl.
    const loadedAt = served?.freshUntil === undefined ? now : Math.min(now, served.freshUntil - lifetimeSeconds * 1000);
    return { cacheStatus, lastModified: new Date(loadedAt), region: "self-hosted", requestId: randomUUID(), signature: served?.key ?? "unspecified", tier };
  }
}
