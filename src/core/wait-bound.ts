/** How fast the remembered longest load of a model shrinks per later load (slow loads are remembered a while). */
const DECAY_PER_LOAD = 0.9;
/** A waiter gives the holder this many times the longest recent load before loading by itself. */
const LOAD_MULTIPLE = 4;

/**
 * How long a fleet-lock waiter waits for the holder's value before it loads by itself: about as
 * long as the holder's load takes, not the lock's lifetime. The bound is
 * `min(lockTtl, 2 × redisTimeout + 4 × the longest recent load of the model in this process)`:
 * the Redis allowance covers the holder's store-and-release (one call, itself bounded by
 * redisTimeout: a holder that needs longer stores nothing) and the wake-up's delivery; the load
 * multiple covers both event loops' lag on a busy machine, which slows the loads too.
 * Before this process has timed any load of the model it knows nothing better than `lockTtl`.
 */
export class WaitBound {
  readonly #lockTtlMs: number;
  readonly #floorMs: number;
  readonly #longestLoad = new Map<string, number>();

  constructor(lockTtlMs: number, redisTimeoutMs: number) {
    this.#lockTtlMs = lockTtlMs;
    this.#floorMs = 2 * redisTimeoutMs;
  }

  /** Remembers a database load's duration: a decaying maximum per model. */
  observe(model: string, loadMs: number): void {
    const longest = this.#longestLoad.get(model) ?? 0;
    this.#longestLoad.set(model, Math.max(loadMs, longest * DECAY_PER_LOAD));
  }

  /** Milliseconds a waiter for a value of `model` waits at most. */
  of(model: string): number {
    const longest = this.#longestLoad.get(model);
    return longest === undefined ? this.#lockTtlMs : Math.min(this.#lockTtlMs, this.#floorMs + LOAD_MULTIPLE * longest);
  }
}
