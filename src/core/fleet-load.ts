import type { ReadRequest } from "./read-request.js";
import { lockKeyOf, type HeldLock } from "./fleet-lock.js";
import { expiryOf, type LandingWaiters, type WaitOutcome } from "./landing-waiters.js";
import type { WaitBound } from "./wait-bound.js";
import type { TieredCacheParts } from "./tiered-cache.js";
import type { DecodedEntry, LockedLookup } from "./l2-lookup.js";

/** How many times a miss waits for the fleet lock's holder (within one WaitBound in all) before it loads by itself. */
const LOCK_ATTEMPTS = 3;

/** After a load: the store released the lock itself, stored without it, or stored nothing. */
export type StoreOutcome = "released" | "stored" | "skipped";

/**
 * What a read found: a servable entry in Redis, a value it loaded, a write in progress (nothing
 * may be served or stored), or its first lookup failed (nothing cached can be validated).
 */
export type Resolved = { entry: DecodedEntry } | { loaded: unknown } | { unavailable: unknown } | typeof DIRTY;

export const DIRTY = Symbol("write in progress");

/** The steps of TieredCache a fleet-wide load is made of. */
export interface FleetLoadSteps {
  /** Loads, fills L1 and starts the L2 store; `stored` settles when the store is done (never rejects). */
  loadAndStore(request: ReadRequest, current: readonly number[], held: HeldLock | undefined): Promise<{ value: unknown; stored: Promise<StoreOutcome> }>;
  /**
   * One round trip: the entry if servable (newer than `replacing`), else the fleet lock taken or
   * found held. `ownToken`: the lock this process holds for the key, if any.
   */
  lookupOrLock(request: ReadRequest, replacing: number, ownToken: string, mark: boolean): Promise<LockedLookup>;
  /**
   * For a key whose last lookup hit: its entry read without a script (undefined when it no longer
   * serves); undefined at once, not a promise, for any other key.
   */
  peek(request: ReadRequest): Promise<DecodedEntry | undefined> | undefined;
  /** Counts and reports a Redis failure, which never fails the read. */
  absorb(error: unknown): void;
}

/** The parts of the cache a fleet-wide load reads: the lock, the counters and the wake-up messages. */
type FleetLoadParts = Pick<TieredCacheParts, "lock" | "counters" | "hearingRedis" | "redisOpen" | "nothingLandedMessage">;

/** A fleet lock this process holds: readers of the same process wait for it here, not through Redis. */
interface LocalHold {
  token: string;
  /** A miss's load (not a refresh, which runs while a servable entry stands in Redis). */
  filling: boolean;
  /** Settles once the holder stored (or not) and released: "nothing" when it stored nothing. */
  settled: Promise<"landed" | "nothing">;
}

/** A miss's database load, done by one instance of the fleet at a time per key (the lock holder). */
export class FleetLoad {
  readonly #parts: FleetLoadParts;
  readonly #waiters: LandingWaiters;
  readonly #waitBound: WaitBound;
  readonly #steps: FleetLoadSteps;
  /** The fleet locks this process holds, by entry key, until their store and release are done. */
  readonly #holding = new Map<string, LocalHold>();

  constructor(parts: FleetLoadParts, waiters: LandingWaiters, waitBound: WaitBound, steps: FleetLoadSteps) {
    this.#parts = parts;
    this.#waiters = waiters;
    this.#waitBound = waitBound;
    this.#steps = steps;
  }

  /**
   * The entry, or a value loaded by one loader for the whole fleet: the lookup takes the lock in
   * the same round trip when the entry cannot be served, and the holder loads. Everyone else
   * waits for the holder's value to land: in process when the holder is this process (no
   * Redis), otherwise woken through Redis. Such a waiter registers for the wake-up *before* its
   * lookup tries the lock, so a release that follows its failed try always wakes it (a wake-up
   * published before it listened would otherwise be lost, and it would wait in vain); the
   * failed try marks that it waits, and only then does the release publish. All its waits together
   * last about as long as the holder's load takes (WaitBound: one deadline across attempts); woken,
   * it looks (and tries the lock) again, and after LOCK_ATTEMPTS waits loads by itself. Past the
   * deadline it looks once more without trying the lock, then loads by itself: a holder that is
   * alive but cut off from Redis between its lock and its store (its connection killed, its
   * commands queued behind ioredis' reconnection) would otherwise hold every waiter for as long
   * as that lasts, since trying its lock again only finds it still held. The first lookup's failure is returned
   * (`unavailable`: nothing can be validated); a later one's is absorbed and the read loads by
   * itself. A load's own error (the database's) is thrown to the reader.
   */
  async resolve(request: ReadRequest, replacing = -Infinity): Promise<Resolved> {
    // A key expected to hit costs no lock arguments, no wait registration and no deadline.
    const peeking = replacing === -Infinity ? this.#steps.peek(request) : undefined;
    if (peeking !== undefined) {
      try {
        const entry = await peeking;
        if (entry !== undefined) return { entry };
      } catch (error) {
        return { unavailable: error };
      }
    }
    const { lock, counters } = this.#parts;
    let current: readonly number[] | undefined;
    // The bound is asked again whenever a wait runs out: loads that finished meanwhile may have
    // been slower (a machine that just got busy, a cold start), and the holder's is slowed alike.
    // It never shrinks below what it was when the read started.
    // Waits are timed on the monotonic clock: a wall clock stepped back would stretch them by its step.
    const begun = performance.now();
    const initialBound = this.#waitBound.of(request.model);
    // Past its bound, a wait goes on while the holder shows it is alive (see #holderAlive), a
    // liveness window at a time, up to lockTtl from the read's start: the bound follows the
    // model's recent loads, which a model loaded now and then forgets within seconds (outside
    // probes 137, 138: a herd on an 800 ms load, a few seconds after the last one, loaded once
    // per process instead of once for the fleet).
    let aliveUntil = 0;
    const deadline = () => Math.max(begun + Math.max(initialBound, this.#waitBound.of(request.model)), aliveUntil);
    const left = () => deadline() - performance.now();
    // Set by a wait that timed out: a timer may fire a millisecond before the clock reaches the deadline.
    let expired = false;
    // Wake-ups by a landing after which the value still could not be served: at most
    // LOCK_ATTEMPTS, then it loads. Nothing else uses up attempts — not a resubscription, not a
    // look while deaf, not a look that found the holder alive (outside probe 139: counting those
    // made waiters give up on a live holder after two liveness windows).
    let landings = 0;
    // A read counts one wait, and one that no wake-up ended if it then loads by itself (its last
    // wait ran out: a wait past the bound that the holder's "nothing landed" then ended is no
    // timeout, outside probe 140).
    let waited = false;
    let waitedHere = false;
    let timedOut = false;
    for (;;) {
      const outOfTime: boolean = expired || left() <= 0;
      const last: boolean = lock === undefined || landings === LOCK_ATTEMPTS || outOfTime;
      // A load of this key runs in this process: nothing can be servable before it lands, so
      // wait for it here before asking Redis (then look: its value, or the lock, is there).
      const local = this.#holding.get(request.key);
      if (local?.filling && !last) {
        const outcome = await this.#waitHere(local, left, replacing === -Infinity, !waitedHere);
        waitedHere = true;
        expired = outcome === "timeout";
        timedOut = expired;
        if (expired) continue;
        if (outcome === "nothing" && current !== undefined) break;
        landings++;
      }
      const waiter: ReturnType<LandingWaiters["register"]> | undefined = last ? undefined : this.#waiters.register(request.key);
      let found: LockedLookup;
      try {
        found = await this.#steps.lookupOrLock(request, replacing, this.#holding.get(request.key)?.token ?? "", !last);
      } catch (error) {
        waiter?.cancel();
        if (current === undefined) return { unavailable: error };
        this.#steps.absorb(error);
        break;
      }
      current = found.current;
      if (found.lock !== "held-elsewhere") waiter?.cancel();
      if (found.dirty) return DIRTY;
      if (found.entry !== undefined) return { entry: found.entry };
      if (found.lock === "taken") return { loaded: await this.#loadHolding(request, current, replacing, found.held!) };
      if (last || found.lock === "none") {
        if (outOfTime && lock !== undefined && performance.now() - begun < lock.ttlMs && (await this.#holderAlive(request, found.lock))) {
          aliveUntil = Math.min(begun + lock.ttlMs, performance.now() + lock.livenessMs);
          expired = false;
          continue;
        }
        break;
      }
      if (found.lock === "held-here") {
        const here = this.#holding.get(request.key);
        // Released meanwhile: look again at once.
        if (here === undefined) continue;
        const outcome = await this.#waitHere(here, left, replacing === -Infinity, !waitedHere);
        waitedHere = true;
        if (outcome === "nothing") break;
        expired = outcome === "timeout";
        timedOut = expired;
        if (outcome === "landed") landings++;
        continue;
      }
      if (!waited) counters.lockWaits++;
      waited = true;
      const started = performance.now();
      let woken: WaitOutcome;
      try {
        // A wake-up comes through Redis: once none can arrive (Redis silent, the subscription down), stop waiting and look.
        woken = await waiter!.wait(left, this.#parts.hearingRedis);
      } finally {
        waiter!.cancel();
        counters.lockWaitMs += performance.now() - started;
      }
      timedOut = woken === "timeout" || woken === "unheard";
      expired = woken === "timeout";
      // The holder loaded a result it will not cache, or Redis does not answer at all: waiting longer would only queue us up.
      if (woken === "nothing" || (woken === "unheard" && this.#parts.redisOpen?.() === true)) break;
      // No wake-up can reach this instance (its subscription dropped, or Redis is silent): look
      // again rather than load, every HEARING_CHECK_MS or so until the deadline. The holder's value
      // may have landed; once the subscription is made again the next wait is woken as usual
      // (outside probes 124, 127: a herd whose subscriptions were killed loaded once per waiting
      // instance). A Redis silent on the command connection too fails that look within
      // redisTimeout, and the read loads.
      if (woken === "landed") landings++;
    }
    // A wait that ran out is counted only when the read then loads by itself: one the holder's
    // landing ended after the bound was extended (a live holder) was no timeout (outside probe 139).
    if (timedOut) counters.lockWaitTimeouts++;
    // Every way out of the loop but a throw has looked up at least once (the last attempt always does).
    return { loaded: (await this.#steps.loadAndStore(request, current!, undefined)).value };
  }

  /**
   * Whether the lock a read's last look found held has a live holder: this process's own load
   * still running, or another instance's lock extended within the liveness window (a holder
   * frozen, starved or cut off from Redis stops extending it). A failed check says no.
   */
  async #holderAlive(request: ReadRequest, status: LockedLookup["lock"]): Promise<boolean> {
    if (status === "held-here") return this.#holding.has(request.key);
    if (status !== "held-elsewhere") return false;
    try {
      return await this.#parts.lock!.holderAlive(lockKeyOf(request.key));
    } catch (error) {
      this.#steps.absorb(error);
      return false;
    }
  }

  /**
   * Waits for a load of this process to land, until the waiter's deadline like a wait through
   * Redis. Resolves "nothing" when the holder stored nothing (the caller loads by itself). Only a
   * miss's wait is counted: `localLockWaits` is one of the terms misses add up to, and a refresh
   * that waits was served already (outside probe 123); and once per read, however often it waits.
   */
  async #waitHere(hold: LocalHold, left: () => number, miss: boolean, first: boolean): Promise<"landed" | "nothing" | "timeout"> {
    const { counters } = this.#parts;
    if (miss && first) counters.localLockWaits++;
    const started = performance.now();
    const expiry = expiryOf(left);
    try {
      return await Promise.race([hold.settled, expiry.promise]);
    } finally {
      expiry.cancel();
      if (miss) counters.localLockWaitMs += performance.now() - started;
    }
  }

  /** The lock holder's part: load, store, and release the lock (waking the waiters) once the value is in Redis. */
  async #loadHolding(request: ReadRequest, current: readonly number[], replacing: number, held: HeldLock): Promise<unknown> {
    this.#parts.counters.lockAcquisitions++;
    const started = performance.now();
    let settle!: (outcome: "landed" | "nothing") => void;
    const hold: LocalHold = { token: held.token, filling: replacing === -Infinity, settled: new Promise((resolve) => (settle = resolve)) };
    this.#holding.set(request.key, hold);
    let outcome: Promise<StoreOutcome> = Promise.resolve("skipped");
    try {
      const loaded = await this.#steps.loadAndStore(request, current, held);
      outcome = loaded.stored;
      return loaded.value;
    } finally {
      // Release (and wake the waiters) only once the value is in Redis for them to read,
      // unless the store already did both; if nothing was stored, tell them to load themselves.
      void outcome
        .then((stored) => {
          if (stored !== "released") return held.release(stored === "skipped" ? this.#parts.nothingLandedMessage(request.key) : undefined).then(() => stored);
          return stored;
        })
        .catch((error: unknown): StoreOutcome => {
          this.#steps.absorb(error);
          return "skipped";
        })
        .then((stored) => {
          // How long the fleet waited for this value: what bounds this process's waiters next.
          if (stored !== "skipped") this.#waitBound.observeHold(request.model, performance.now() - started);
          if (this.#holding.get(request.key) === hold) this.#holding.delete(request.key);
          settle(stored === "skipped" ? "nothing" : "landed");
        });
    }
  }
}
