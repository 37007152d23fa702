/**
 * How long the remembered longest load of a model takes to halve. By time, not by count of later
 * loads: a burst of slow loads (a process starting, the machine busy) is remembered for about a
 * second whatever the throughput (at thousands of loads a second a per-load decay forgot it in
 * milliseconds, and waiters gave up on holders that were merely slow), and no longer (a longer
 * memory, 5 s, let the slow loads of a Redis outage stretch waits after it past a second).
 */
const HALF_LIFE_MS = 500;
/** A waiter gives the holder this many times the longest recent load before loading by itself. */
const LOAD_MULTIPLE = 4;
/**
 * …or this many times the longest recent hold, whichever is longer. A hold (lock taken to value
 * landed in Redis) already contains the holder's event-loop lag and its store's round trip, so
 * it needs less slack than a bare load; 4 would let a hold slowed by a Redis near its timeout
 * (250 ms) stretch waits past a second.
 */
const HOLD_MULTIPLE = 2;
/** The Redis allowance, in redisTimeouts: see WaitBound. */
const REDIS_ALLOWANCE = 2;

/**
 * How long a fleet-lock waiter waits for the holder's value before it loads by itself: about as
 * long as the holder's load takes, not the lock's lifetime. The bound is
 * `min(lockTtl, 2 × redisTimeout + 4 × the longest recent load of the model in this process)`:
 * the Redis allowance covers the holder's store-and-release (one call, itself bounded by
 * redisTimeout: a holder that needs longer stores nothing) and the wake-up's delivery; the load
 * multiple covers both event loops' lag on a busy machine, which slows the loads too (3 ×
 * redisTimeout pushed reads after an outage past a second: 24–28 per chaos run after auth was
 * restored). With the default redisTimeout (250 ms) a read that waits and then loads stays under a second.
 * Before this process has timed any load of the model it knows nothing better than `lockTtl`
 * (the load time an entry read from Redis carries is no substitute: one fast entry made waiters
 * give up on a slow cold load after ≈ 0.5 s, and 3 processes of a herd loaded it, outside probe 107).
 * A waiter asks again when its wait runs out (FleetLoad.resolve): loads that finished slower in
 * the meantime (a cold start's stampede) extend it, since the holder's load is slowed alike.
 * The load alone undercounts a starved fleet: four processes sharing two cores, each writing,
 * held locks for hundreds of milliseconds around loads of one, so the bound is also at least
 * 2 × redisTimeout + 2 × the longest recent hold of this process (lock taken to value landed;
 * holds that stored nothing are not counted, they are failures the Redis allowance covers).
 */
export class WaitBound {
  readonly #lockTtlMs: number;
  readonly #floorMs: number;
  readonly #now: () => number;
  readonly #longestLoad = new Map<string, Remembered>();
  readonly #longestHold = new Map<string, Remembered>();

  constructor(lockTtlMs: number, redisTimeoutMs: number, now: () => number = () => performance.now()) {
    this.#lockTtlMs = lockTtlMs;
    this.#floorMs = REDIS_ALLOWANCE * redisTimeoutMs;
    this.#now = now;
  }

  /** Remembers a database load's duration: a maximum per model that halves every HALF_LIFE_MS. */
  observe(model: string, loadMs: number): void {
    remember(this.#longestLoad, model, loadMs, this.#now());
  }

  /** Remembers how long a lock of this process was held until its value landed, like observe(). */
  observeHold(model: string, holdMs: number): void {
    remember(this.#longestHold, model, holdMs, this.#now());
  }

  /** Milliseconds a waiter for a value of `model` waits at most. */
  of(model: string): number {
    const now = this.#now();
    const load = recall(this.#longestLoad, model, now);
    if (load === undefined) return this.#lockTtlMs;
    const slack = Math.max(LOAD_MULTIPLE * load, HOLD_MULTIPLE * (recall(this.#longestHold, model, now) ?? 0));
    return Math.min(this.#lockTtlMs, this.#floorMs + slack);
  }
}

/** A per-model maximum as of `at`, halving every HALF_LIFE_MS after. */
interface Remembered {
  ms: number;
  at: number;
}

function remember(longest: Map<string, Remembered>, model: string, ms: number, now: number): void {
  longest.set(model, { ms: Math.max(ms, recall(longest, model, now) ?? 0), at: now });
}

function recall(longest: Map<string, Remembered>, model: string, now: number): number | undefined {
  const remembered = longest.get(model);
  return remembered === undefined ? undefined : remembered.ms * 0.5 ** ((now - remembered.at) / HALF_LIFE_MS);
}
