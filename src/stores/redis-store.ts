import { CacheStoreError } from "../errors.js";
import type { RedisLike } from "../types.js";
import type { CircuitBreaker } from "./circuit-breaker.js";
import type { RedisScript } from "./redis-scripts.js";

/** ioredis states in which a command cannot be sent now: fail fast instead of queueing. */
const UNAVAILABLE = new Set(["close", "end", "reconnecting"]);

/** Raised when a Redis call exceeded the configured timeout. */
export class RedisTimeoutError extends CacheStoreError {
  constructor(operation: string, timeoutMs: number) {
    super(operation, `no answer within ${timeoutMs} ms`);
  }
}

/** Raised at once, without a round trip, while the circuit breaker is open. */
export class CircuitOpenError extends CacheStoreError {
  constructor(operation: string) {
    super(operation, "circuit open (Redis kept failing; probing)");
  }
}

/**
 * Reply errors that mean Redis cannot serve us now (as opposed to refusing one command, as OOM
 * does): they count towards opening the circuit, like timeouts and connection errors.
 */
const UNSERVABLE_REPLIES = /^(NOAUTH|WRONGPASS|NOPERM|LOADING|MASTERDOWN|READONLY|BUSY|CLUSTERDOWN|TRYAGAIN)\b/;

/**
 * Every Redis command the cache sends. Each call is bounded by `timeoutMs`, so a slow or absent
 * Redis costs a query at most that long before it falls through to the database.
 */
export class RedisStore {
  readonly #redis: RedisLike;
  readonly #timeoutMs: number;
  /** Set once by the runtime: calls fail fast while it is open. */
  breaker: CircuitBreaker | undefined;
  /** Commands sent and not answered yet, with their deadlines (see #track). */
  readonly #inFlight = new Set<InFlight>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(redis: RedisLike, timeoutMs: number) {
    this.#redis = redis;
    this.#timeoutMs = timeoutMs;
  }

  /** The circuit breaker's probe: one PING, bounded like every call, sent even while the circuit is open. */
  probe(): Promise<unknown> {
    return this.#bounded("PING", () => this.#redis.ping(), true);
  }

  get isCluster(): boolean {
    return this.#redis.isCluster === true;
  }

  get(key: string): Promise<string | null> {
    return this.#bounded("GET", () => this.#redis.get(key));
  }

  /** EVALSHA whose reply keeps binary bulk strings as Buffers (Bloom filter bits). */
  runForBuffers(script: RedisScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const redis = this.#redis;
    return this.#bounded("EVALSHA", async () => {
      try {
        return await (redis.evalshaBuffer === undefined ? redis.callBuffer("EVALSHA", script.sha, keys.length, ...keys, ...args) : redis.evalshaBuffer(script.sha, keys.length, ...keys, ...args));
      } catch (error) {
        if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
        return redis.evalBuffer === undefined ? redis.callBuffer("EVAL", script.source, keys.length, ...keys, ...args) : redis.evalBuffer(script.source, keys.length, ...keys, ...args);
      }
    });
  }

  /** SET of binary data without expiry (a Bloom filter's scanned bits). */
  async setBuffer(key: string, value: Buffer, ttlMs: number): Promise<void> {
    await this.#bounded("SET", () => this.#redis.set(key, value, "PX", Math.max(1, Math.round(ttlMs))));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#bounded("SET", () => this.#redis.set(key, value, "PX", Math.max(1, Math.round(ttlMs))));
  }

  mget(keys: readonly string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.#bounded("MGET", () => this.#redis.mget(...keys));
  }

  /** SET NX PX: true if this call created the key. */
  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.#bounded("SET", () => this.#redis.set(key, value, "PX", Math.max(1, Math.round(ttlMs)), "NX"))) === "OK";
  }

  /** Registers `member` until `expiresAt` and drops registrations that expired (dead instances). */
  async addToRegistry(key: string, member: string, expiresAt: number, now: number): Promise<void> {
    await this.#bounded("ZADD", () => this.#redis.zadd(key, expiresAt, member));
    await this.#bounded("ZREMRANGEBYSCORE", () => this.#redis.zremrangebyscore(key, "-inf", now));
  }

  async removeFromRegistry(key: string, member: string): Promise<void> {
    await this.#bounded("ZREM", () => this.#redis.zrem(key, member));
  }

  publish(channel: string, message: string): Promise<number> {
    return this.#bounded("PUBLISH", () => this.#redis.publish(channel, message));
  }

  /** EVALSHA, loading the script with EVAL the first time a server has not seen it. */
  run(script: RedisScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.#bounded("EVALSHA", async () => {
      try {
        return await this.#redis.evalsha(script.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
        return this.#redis.eval(script.source, keys.length, ...keys, ...args);
      }
    });
  }

  #bounded<T>(operation: string, command: () => Promise<T>, probing = false): Promise<T> {
    const breaker = probing ? undefined : this.breaker;
    if (breaker?.open) return Promise.reject(new CircuitOpenError(operation));
    if (UNAVAILABLE.has(this.#redis.status)) {
      breaker?.failed();
      return Promise.reject(new CacheStoreError(operation, `connection is ${this.#redis.status}`));
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const flight: InFlight = {
        deadline: performance.now() + this.#timeoutMs,
        expire: () => {
          if (settled) return;
          settled = true;
          breaker?.failed();
          reject(new RedisTimeoutError(operation, this.#timeoutMs));
        },
      };
      this.#track(flight);
      command().then(
        (value) => {
          this.#inFlight.delete(flight);
          if (settled) return;
          settled = true;
          breaker?.succeeded();
          resolve(value);
        },
        (error: unknown) => {
          this.#inFlight.delete(flight);
          if (settled) return;
          settled = true;
          const message = String((error as Error)?.message ?? error);
          if ((error as Error)?.name !== "ReplyError" || UNSERVABLE_REPLIES.test(message)) breaker?.failed();
          reject(error instanceof CacheStoreError ? error : new CacheStoreError(operation, message, { cause: error }));
        },
      );
    });
  }

  /**
   * One timer for every command in flight (a setTimeout and clearTimeout per command cost more
   * than the rest of an L2 hit's bookkeeping): a sweep every quarter of the timeout fails the
   * commands past their deadline, so a command gives up between 1× and 1.25× the timeout. The
   * sweep stops when nothing is in flight.
   */
  #track(flight: InFlight): void {
    this.#inFlight.add(flight);
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(1, Math.floor(this.#timeoutMs / 4)));
  }

  #sweep(): void {
    const now = performance.now();
    for (const flight of this.#inFlight) {
      if (flight.deadline > now) continue;
      this.#inFlight.delete(flight);
      // Timers run before I/O in Node's loop: after a stall, a reply may already be waiting.
      // Defer the verdict past the next I/O phase so a stalled event loop is not blamed on Redis.
      setImmediate(flight.expire);
    }
    if (this.#inFlight.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}

/** A command awaiting its reply: failed by the sweep once past its deadline (performance.now() ms). */
interface InFlight {
  deadline: number;
  expire: () => void;
}
