import type { ReadRequest } from "./read-request.js";
import type { HeldLock } from "./fleet-lock.js";
import type { LandingWaiters } from "./landing-waiters.js";
import type { WaitBound } from "./wait-bound.js";
import type { TieredCacheParts } from "./tiered-cache.js";

/** How many times a miss tries the fleet lock (woken each time by a value it could not use) before it loads by itself. */
const LOCK_ATTEMPTS = 3;

/** After a load: the store released the lock itself, stored without it, or stored nothing. */
export type StoreOutcome = "released" | "stored" | "skipped";

/** The steps of TieredCache a fleet-wide load is made of. */
export interface FleetLoadSteps {
  /** Loads, fills L1 and starts the L2 store; `stored` settles when the store is done (never rejects). */
  loadAndStore(request: ReadRequest, current: readonly number[], held: HeldLock | undefined): Promise<{ value: unknown; stored: Promise<StoreOutcome> }>;
  /** A current, fresh entry in Redis, newer than the one a refresh replaces. */
  servable(request: ReadRequest, replacing: number): Promise<[unknown] | undefined>;
  /** Counts and reports a Redis failure, which never fails the read. */
  absorb(error: unknown): void;
}

/** The parts of the cache a fleet-wide load reads: the lock, the clock, the counters and the wake-up messages. */
type FleetLoadParts = Pick<TieredCacheParts, "lock" | "counters" | "clock" | "hearingRedis" | "landedMessage" | "nothingLandedMessage">;

/** A miss's database load, done by one instance of the fleet at a time per key (the lock holder). */
export class FleetLoad {
  readonly #parts: FleetLoadParts;
  readonly #waiters: LandingWaiters;
  readonly #waitBound: WaitBound;
  readonly #steps: FleetLoadSteps;

  constructor(parts: FleetLoadParts, waiters: LandingWaiters, waitBound: WaitBound, steps: FleetLoadSteps) {
    this.#parts = parts;
    this.#waiters = waiters;
    this.#waitBound = waitBound;
    this.#steps = steps;
  }

  /**
   * One loader for the whole fleet: the lock holder queries the database; everyone else waits
   * to be woken when the value lands and reads it from Redis. A waiter registers for the wake-up
   * *before* it tries the lock, so a release that follows its failed try always wakes it (a
   * wake-up published before it listened would otherwise be lost, and it would wait in vain).
   * All its waits together last at most about as long as the holder's load takes (WaitBound, one
   * deadline across attempts): not woken by then, it loads by itself. A holder that is alive but
   * cannot reach Redis (its connection dropped between its lock and its store, its commands
   * queued behind a reconnection) would otherwise hold every waiter for as long as that lasts;
   * trying the lock again would only find it still held. Woken by a value it cannot use (stored
   * for versions older than its own), it tries the lock again, at most LOCK_ATTEMPTS times.
   */
  async load(request: ReadRequest, current: readonly number[], replacing = -Infinity): Promise<unknown> {
    const { lock, counters, clock } = this.#parts;
    if (lock === undefined) return (await this.#steps.loadAndStore(request, current, undefined)).value;
    const deadline = clock.now() + this.#waitBound.of(request.model);
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      const waiter = this.#waiters.register(request.key);
      let held;
      try {
        held = await lock.acquire(`${request.key}:lock`, this.#parts.landedMessage(request.key));
      } catch (error) {
        waiter.cancel();
        this.#steps.absorb(error);
        break;
      }
      if (held !== undefined) {
        waiter.cancel();
        return this.#loadHolding(request, current, replacing, held);
      }
      counters.lockWaits++;
      const started = clock.now();
      try {
        // A wake-up comes through Redis: once this instance's lease lapses (Redis silent), stop waiting.
        const woken = await waiter.wait(Math.max(0, deadline - started), this.#parts.hearingRedis);
        if (woken === "timeout" || woken === "unheard") {
          counters.lockWaitTimeouts++;
          break;
        }
        // The holder loaded a result it will not cache: waiting longer would only queue us up.
        if (woken === "nothing") break;
        const landed = await this.#steps.servable(request, replacing);
        if (landed !== undefined) return landed[0];
      } finally {
        waiter.cancel();
        counters.lockWaitMs += clock.now() - started;
      }
    }
    return (await this.#steps.loadAndStore(request, current, undefined)).value;
  }

  /** The lock holder's part: load, store, and release the lock (waking the waiters) once the value is in Redis. */
  async #loadHolding(request: ReadRequest, current: readonly number[], replacing: number, held: HeldLock): Promise<unknown> {
    this.#parts.counters.lockAcquisitions++;
    let outcome: Promise<StoreOutcome> = Promise.resolve("skipped");
    try {
      // Check again under the lock: a holder that finished just before we took it has landed the value.
      const landed = await this.#steps.servable(request, replacing);
      if (landed !== undefined) {
        outcome = Promise.resolve("stored");
        return landed[0];
      }
      const loaded = await this.#steps.loadAndStore(request, current, held);
      outcome = loaded.stored;
      return loaded.value;
    } finally {
      // Release (and wake the waiters) only once the value is in Redis for them to read,
      // unless the store already did both; if nothing was stored, tell them to load themselves.
      void outcome
        .then((stored) => (stored === "released" ? undefined : held.release(stored === "skipped" ? this.#parts.nothingLandedMessage(request.key) : undefined)))
        .catch((error: unknown) => this.#steps.absorb(error));
    }
  }
}
