/** Node runs a timer of more than 2^31 − 1 ms after 1 ms: no option in ms may be longer. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The longest lifetime in seconds (ttl, swr, negativeTtl, maxLifetime, l1.maxTtl, bloom.maxAge,
 * queryStats.halfLife): 365 days, so every millisecond value sent to Redis (PX, PEXPIRE) is an
 * integer it accepts, jitter and the tag-lifetime margin included.
 */
export const MAX_LIFETIME_S = 365 * 24 * 3600;

/** A `scope` is part of every key it applies to (see derive-key.ts): bounded so keys stay short. */
export const MAX_SCOPE_LENGTH = 200;

/** Statistics stay bounded: Redis holds at most this many queries per namespace (`queryStats.maxQueries`). */
export const MAX_RECORDED_QUERIES = 100_000;

/**
 * `l1.maxEntries`: lru-cache reserves room for every entry when the cache is made, whatever
 * `maxBytes` allows (36 MiB at this size; an outside probe's 1e8 ran the heap out of memory at
 * `$extends`, and 2^32 threw a bare RangeError).
 */
export const MAX_L1_ENTRIES = 1_000_000;

/** `bloom.errorRate`: below it a filter needs more hashes than a filter may have (64) and is refused when loaded. */
export const MIN_BLOOM_ERROR_RATE = 1e-12;
