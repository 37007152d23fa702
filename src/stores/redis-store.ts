import { CacheStoreError } from "../errors.js";
import type { RedisLike } from "../types.js";

/** ioredis states in which a command cannot be sent now: fail fast instead of queueing. */
const UNAVAILABLE = new Set(["close", "end", "reconnecting"]);

/** Raised when a Redis call exceeded the configured timeout. */
export class RedisTimeoutError extends CacheStoreError {
  constructor(operation: string, timeoutMs: number) {
    super(operation, `no answer within ${timeoutMs} ms`);
  }
}

/**
 * The L2: Redis strings with a millisecond TTL. Every call is bounded by `timeoutMs`, so a slow
 * or absent Redis costs a query at most that long before it falls through to the database.
 */
export class RedisStore {
  readonly #redis: RedisLike;
  readonly #timeoutMs: number;

  constructor(redis: RedisLike, timeoutMs: number) {
    this.#redis = redis;
    this.#timeoutMs = timeoutMs;
  }

  get(key: string): Promise<string | null> {
    return this.#bounded("GET", () => this.#redis.get(key));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#bounded("SET", () => this.#redis.set(key, value, "PX", Math.max(1, Math.round(ttlMs))));
  }

  #bounded<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (UNAVAILABLE.has(this.#redis.status)) {
      return Promise.reject(new CacheStoreError(operation, `connection is ${this.#redis.status}`));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RedisTimeoutError(operation, this.#timeoutMs)), this.#timeoutMs);
      command().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof CacheStoreError ? error : new CacheStoreError(operation, String((error as Error)?.message ?? error), { cause: error }));
        },
      );
    });
  }
}
