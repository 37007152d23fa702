/** Where a read was answered from: the in-process tier, Redis, the database, or a Bloom filter's "never existed". */
export type ServedTier = "l1" | "l2" | "db" | "bloom";

/**
 * How one read was served, filled in by the read path for the reads that ask for it (an
 * out-object, so reads that do not ask pay one `undefined` check). `tier` stays undefined when
 * the read bypassed the cache (Redis unavailable, a pending invalidation, unencodable arguments).
 */
export interface ServedBy {
  tier: ServedTier | undefined;
  /** Served from an entry past its ttl, inside its swr window (a refresh was started). */
  stale: boolean;
  /** When the entry served stops being fresh (ms since the epoch); undefined for database loads. */
  freshUntil: number | undefined;
  /** The cache key of the read: the operation's identity. */
  key: string | undefined;
}

export function newServedBy(): ServedBy {
  return { tier: undefined, stale: false, freshUntil: undefined, key: undefined };
}

/** Records a cache hit, or a database load when `freshUntil` is undefined. */
export function noteServed(served: ServedBy, tier: ServedTier, stale: boolean, freshUntil: number | undefined): void {
  served.tier = tier;
  served.stale = stale;
  served.freshUntil = freshUntil;
}
