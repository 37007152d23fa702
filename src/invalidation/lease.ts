import { performance } from "node:perf_hooks";
import { CacheStoreError, type CacheError } from "../errors.js";

/** How long an instance may answer from L1 after it last heard from Redis, and how often it asks. */
export interface LeaseSettings {
  /** Milliseconds a lease lasts, counted from when the heartbeat that renewed it was sent. */
  ttlMs: number;
  /** Milliseconds between heartbeats (less than `ttlMs`, so a healthy instance never lapses). */
  heartbeatMs: number;
}

/**
 * The right to answer from L1. It is held only while this instance has heard from Redis, on the
 * connection that carries invalidations, within the last `ttlMs`: a PING on the subscriber
 * connection is answered after every message Redis published before it processed the PING, so
 * once the reply is in, every invalidation processed before the PING was sent has been applied.
 * The lease therefore runs from when the PING was *sent*, never from when its reply arrived.
 *
 * A writer that misses an instance's acknowledgement waits until that instance's lease must
 * have lapsed (`ttlMs` after Redis processed the invalidation): a frozen, busy or cut-off
 * instance then refuses its own L1 (`holds()` is one monotonic clock read on every L1 hit).
 */
export class L1Lease {
  readonly ttlMs: number;
  readonly #heartbeatMs: number;
  readonly #ping: () => Promise<unknown>;
  readonly #report: (error: CacheError) => void;
  /** `performance.now()` until which L1 may answer; -Infinity when revoked. */
  #until = -Infinity;
  /** Bumped on every start/stop: a reply to a PING sent before it renews nothing. */
  #generation = 0;
  #outstanding = false;
  #reported = -1;
  /** Before the first start(), how long Redis counts as "heard" (the subscription is being set up); -Infinity once stopped. */
  #graceUntil: number;
  /** When the first heartbeat since the last answered one was sent (undefined: the last one was answered). */
  #silentSince: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: LeaseSettings, ping: () => Promise<unknown>, report: (error: CacheError) => void) {
    this.ttlMs = settings.ttlMs;
    this.#heartbeatMs = settings.heartbeatMs;
    this.#ping = ping;
    this.#report = report;
    this.#graceUntil = performance.now() + this.ttlMs;
  }

  /** Whether L1 may answer now, and no later than `bound` (another deadline, read with the same clock): one clock read. */
  holds(bound = Infinity): boolean {
    return performance.now() < Math.min(this.#until, bound);
  }

  /**
   * Whether a message from Redis may still arrive. Silence is heartbeats unanswered or failed for
   * longer than the lease since the last answered one (Redis stalled, a dead connection, a Cluster
   * node deaf to the bus), or no subscription. A lease that lapsed only because this event loop
   * was too busy to send the heartbeat is not silence.
   */
  hearing(): boolean {
    if (this.#timer === undefined) return performance.now() < this.#graceUntil;
    return this.#silentSince === undefined || performance.now() - this.#silentSince <= this.ttlMs;
  }

  /** Milliseconds left on the lease (0 when it lapsed), for stats and tests. */
  remainingMs(): number {
    return Math.max(0, this.#until - performance.now());
  }

  /** The subscription is live: heartbeat from now on (the first at once). */
  start(): void {
    this.stop();
    const generation = this.#generation;
    this.#timer = setInterval(() => this.#beat(generation), this.#heartbeatMs);
    this.#timer.unref();
    this.#beat(generation);
  }

  /** The subscription is down (or the cache closes): the lease ends now. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#generation++;
    this.#outstanding = false;
    this.#silentSince = undefined;
    this.#until = -Infinity;
    this.#graceUntil = -Infinity;
  }

  /**
   * One PING at a time: while one is unanswered (Redis paused, a dead connection not yet noticed)
   * no other is sent, so a reply that finally arrives renews from the old send time, which has
   * lapsed, and the next PING is sent only after it, behind whatever Redis had queued.
   */
  #beat(generation: number): void {
    if (this.#outstanding) return;
    this.#outstanding = true;
    const sentAt = performance.now();
    this.#silentSince ??= sentAt;
    this.#ping().then(
      () => {
        if (generation !== this.#generation) return;
        this.#outstanding = false;
        this.#silentSince = undefined;
        this.#until = Math.max(this.#until, sentAt + this.ttlMs);
      },
      (error: unknown) => {
        if (generation !== this.#generation) return;
        this.#outstanding = false;
        // One report per outage: the subscriber's own errors say the rest.
        if (this.#reported === generation) return;
        this.#reported = generation;
        this.#report(new CacheStoreError("PING", `lease heartbeat failed: ${String((error as Error)?.message ?? error)}`, { cause: error }));
      },
    );
  }
}

/**
 * Resolves once `ms` milliseconds have passed since `since` (a `performance.now()` value). Timers
 * count from the event loop's cached time, which may lag: check the clock again before resolving.
 */
export async function waitUntilLapsed(since: number, ms: number): Promise<void> {
  for (let left = since + ms - performance.now(); left > 0; left = since + ms - performance.now()) {
    await new Promise((resolve) => setTimeout(resolve, Math.ceil(left)));
  }
}
