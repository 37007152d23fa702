import { randomUUID } from "node:crypto";
import { EXTEND_LOCK, RELEASE_LOCK } from "../stores/redis-scripts.js";
import { RedisTimeoutError, type RedisStore } from "../stores/redis-store.js";

/** How often a holder extends its lock while it loads (at most a third of the lock's ttl). */
const HOLDER_HEARTBEAT_MS = 200;

/** The fleet lock of an entry key. */
export const lockKeyOf = (entryKey: string) => `${entryKey}:lock`;

/** A held lock: extended while held, released (by its owner only) when done. */
export interface HeldLock {
  readonly key: string;
  /** Where failed attempts mark that they wait (see FleetLock.waitedKeyOf). */
  readonly waitedKey: string;
  readonly token: string;
  /** Stops the keep-alive; for a release done elsewhere (the store-and-release script). */
  stopKeepAlive(): void;
  /** Releases and publishes `message` (by default the one given at acquire) to wake the waiters. */
  release(message?: string): Promise<boolean>;
}

/**
 * One loader per key for the whole fleet: `SET NX PX` with a random token (or LOOKUP_OR_LOCK,
 * which takes it in the lookup's round trip); release and extend are Lua scripts that act only
 * for the token's owner, so a holder whose lock expired can never release or extend the next
 * owner's. Release publishes the "landed" wake-up if a failed attempt marked that it waits
 * (always on a Cluster, where the mark would live in another slot).
 */
export class FleetLock {
  readonly #store: RedisStore;
  readonly #ttlMs: number;
  readonly #channel: string;
  /** How often a holder extends its lock: HOLDER_HEARTBEAT_MS, at most a third of the ttl. */
  readonly #heartbeatMs: number;
  /**
   * A lock extended within this long has a live holder: three heartbeats, so an event loop lagging
   * by a few hundred milliseconds on a busy machine still counts as alive.
   */
  readonly livenessMs: number;

  constructor(store: RedisStore, ttlMs: number, channel: string) {
    this.#store = store;
    this.#ttlMs = ttlMs;
    this.#heartbeatMs = Math.max(1, Math.min(HOLDER_HEARTBEAT_MS, Math.floor(ttlMs / 3)));
    this.livenessMs = 3 * this.#heartbeatMs;
    this.#channel = channel;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /**
   * Where failed attempts on `lockKey` mark that they wait. It ends in `:lock` like the lock, so
   * whatever skips lock keys (entry census, tools) skips it too.
   */
  waitedKeyOf(lockKey: string): string {
    return `${lockKey}:waited:lock`;
  }

  /** The lock, kept alive every ttl/3 until released, or undefined if another owner has it. */
  async acquire(lockKey: string, landedMessage: string): Promise<HeldLock | undefined> {
    const token = randomUUID();
    let created: boolean;
    try {
      created = await this.#store.setIfAbsent(lockKey, token, this.#ttlMs);
    } catch (error) {
      this.releaseAfterTimeout(error, lockKey, token);
      throw error;
    }
    return created ? this.hold(lockKey, token, landedMessage) : undefined;
  }

  /**
   * A command that timed out may still reach Redis (a stalled server answers later) and take a
   * lock nobody holds, which every reader of the key would wait for until it expired. Release it
   * behind the command: same connection, so Redis runs the two in order.
   */
  releaseAfterTimeout(error: unknown, lockKey: string, token: string): void {
    if (error instanceof RedisTimeoutError) void this.release(lockKey, token).catch(() => {});
  }

  /**
   * A lock just taken with `token` (by SET NX or LOOKUP_OR_LOCK), kept alive every
   * HOLDER_HEARTBEAT_MS (at most ttl/3) until released: a load that outlives the lock extends it,
   * so no second loader starts while it runs, and a waiter whose bound ran out sees a holder that
   * is alive and reaches Redis (see holderAlive).
   */
  hold(lockKey: string, token: string, landedMessage: string): HeldLock {
    const keepAlive = setInterval(() => void this.extend(lockKey, token).catch(() => {}), this.#heartbeatMs);
    keepAlive.unref();
    return {
      key: lockKey,
      waitedKey: this.waitedKeyOf(lockKey),
      token,
      stopKeepAlive: () => clearInterval(keepAlive),
      release: async (message = landedMessage) => {
        clearInterval(keepAlive);
        return this.release(lockKey, token, message);
      },
    };
  }

  async release(lockKey: string, token: string, landedMessage = ""): Promise<boolean> {
    const keys = this.#store.isCluster ? [lockKey] : [lockKey, this.waitedKeyOf(lockKey)];
    return (await this.#store.run(RELEASE_LOCK, keys, [token, landedMessage === "" ? "" : this.#channel, landedMessage])) === 1;
  }

  /**
   * Whether the lock is held by a holder that extended it within `livenessMs`: alive, and
   * reaching Redis. A holder frozen, starved or cut off from Redis stops extending it.
   */
  async holderAlive(lockKey: string): Promise<boolean> {
    const remaining = await this.#store.remainingTtl(lockKey);
    return remaining > 0 && this.#ttlMs - remaining <= this.livenessMs;
  }

  /** Whether the lock is held by a holder that stopped extending it: held, and not alive (see holderAlive). */
  async holderStalled(lockKey: string): Promise<boolean> {
    const remaining = await this.#store.remainingTtl(lockKey);
    return remaining > 0 && this.#ttlMs - remaining > this.livenessMs;
  }

  async extend(lockKey: string, token: string): Promise<boolean> {
    return (await this.#store.run(EXTEND_LOCK, [lockKey], [token, this.#ttlMs])) === 1;
  }

  /** For tests of lock safety: take the lock with a known token. */
  async acquireWithToken(lockKey: string, token: string): Promise<boolean> {
    return this.#store.setIfAbsent(lockKey, token, this.#ttlMs);
  }
}
