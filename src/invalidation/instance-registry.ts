import { CacheStoreError, type CacheError } from "../errors.js";
import type { RedisStore } from "../stores/redis-store.js";

/** How often a live instance renews its registration (one ZADD + one ZREMRANGEBYSCORE). */
export const REGISTRATION_HEARTBEAT_MS = 1_000;

/**
 * How long a registration outlives the heartbeat that wrote it. An instance may answer from L1
 * until `leaseTtlMs` after its last lease PING was sent, and that PING went out at most one
 * heartbeat after its last registration (both are timers on one event loop: a loop too busy to
 * renew its registration sends no PING either), so the registration must outlast
 * heartbeat + lease; one more heartbeat absorbs a late timer and clock skew between instances.
 * A crashed instance is thus waited for (up to `leaseTtlMs` per write) for at most this long.
 */
export function registrationLifetimeMs(leaseTtlMs: number): number {
  return 2 * REGISTRATION_HEARTBEAT_MS + leaseTtlMs;
}

/**
 * This instance's entry in `{ns}:instances` (a sorted set by expiry, in the registering
 * instance's wall clock): present while its subscription is live, so a writer counts it even
 * when Redis dropped its subscriber connection and PUBLISH no longer reaches it.
 */
export class InstanceRegistry {
  readonly #store: RedisStore;
  readonly #key: string;
  readonly #member: string;
  readonly #lifetimeMs: number;
  readonly #report: (error: CacheError) => void;
  #heartbeat: NodeJS.Timeout | undefined;
  /** One report per run of failures: a Redis outage is reported by the connection itself too. */
  #failing = false;

  constructor(store: RedisStore, key: string, member: string, leaseTtlMs: number, report: (error: CacheError) => void) {
    this.#store = store;
    this.#key = key;
    this.#member = member;
    this.#lifetimeMs = registrationLifetimeMs(leaseTtlMs);
    this.#report = report;
  }

  /** Registers now and every heartbeat while `live`; otherwise leaves at once (writers stop counting it). */
  set live(live: boolean) {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    if (!live) {
      this.#settle(this.#store.removeFromRegistry(this.#key, this.#member), "ZREM");
      return;
    }
    const beat = () => {
      const now = Date.now();
      this.#settle(this.#store.addToRegistry(this.#key, this.#member, now + this.#lifetimeMs, now), "ZADD");
    };
    beat();
    this.#heartbeat = setInterval(beat, REGISTRATION_HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  #settle(done: Promise<void>, command: string): void {
    done.then(
      () => (this.#failing = false),
      (error: unknown) => {
        if (this.#failing) return;
        this.#failing = true;
        this.#report(error instanceof CacheStoreError ? error : new CacheStoreError(command, String(error), { cause: error }));
      },
    );
  }
}
