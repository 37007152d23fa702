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
