import type { Codec } from "../codec/codec.js";
import { CacheError } from "../errors.js";
import type { Versions } from "../invalidation/versions.js";
import type { ReadPolicy } from "../options.js";
import type { Counters } from "../stats/counters.js";
import type { MemoryStore } from "../stores/memory-store.js";
import type { RedisStore } from "../stores/redis-store.js";
import type { Clock } from "../types.js";
import { CacheFill } from "./cache-fill.js";
import { refreshBackoffMs, shouldRefreshEarly } from "./early-refresh.js";
import { DIRTY, FleetLoad } from "./fleet-load.js";
import type { FleetLock } from "./fleet-lock.js";
import { InFlight } from "./in-flight.js";
import { L2Lookup, type DecodedEntry } from "./l2-lookup.js";
import { LandingWaiters } from "./landing-waiters.js";
import type { ReadRequest, RefreshReason } from "./read-request.js";
import { noteServed } from "./served-by.js";
import { SingleFlight, UnsharedLoad } from "./single-flight.js";
import { settleWithin } from "./settle-within.js";
import { WaitBound } from "./wait-bound.js";

export interface TieredCacheParts {
  l1: MemoryStore | undefined;
  l2: RedisStore | undefined;
  versions: Versions;
  /** One loader per key across the fleet; undefined without Redis. */
  lock: FleetLock | undefined;
  lockTtlMs: number;
  /** Bounds a lock waiter's wait, with the model's recent load times (see WaitBound). */
  redisTimeoutMs: number;
  earlyRefreshBeta: number;
  /**
   * Whether L1 may be used now: the L1 lease (this instance heard from Redis recently); always true
   * without Redis. With a `bound` (monotonic ms, an entry's keepUntil), only before it too.
   */
  l1Trusted: (bound?: number) => boolean;
  /** Whether this instance's registration stands in Redis (see InstanceRegistry.current): else nothing cached is served, nor stored. */
  registered: () => boolean;
  /** Whether a wake-up from Redis may still arrive (the lease is held or just being set up); always true without Redis. */
  hearingRedis: () => boolean;
  /** True while the circuit breaker is open: Redis is not called at all. */
  redisOpen?: () => boolean;
  landedMessage: (key: string) => string;
  nothingLandedMessage: (key: string) => string;
  codec: Codec;
  clock: Clock;
  random: () => number;
  counters: Counters;
  report: (error: CacheError) => void;
  /** Redis keys a hot key is replicated under (several hash tags, so several Cluster shards). */
  replicas: number;
  /** The largest encoded entry stored in Redis, in bytes (`maxEntrySize`). */
  maxEntryBytes: number;
}

/** Background refreshes (stale-while-revalidate and early ones) running at once in one cache instance. */
export const MAX_BACKGROUND_REFRESHES = 64;
/** Keys whose last refresh failed, kept for their backoff. */
const MAX_REFRESH_FAILURES_KEPT = 10_000;

/** An L1 hit: the value (a private copy) and whether the read should refresh it in the background. */
export type L1Hit = [value: unknown, refresh: RefreshReason | undefined, servedFreshUntil: number];

/**
 * The read path: L1 → L2 (Redis) → database, filling both tiers on the way back. Every entry
 * records the versions it was loaded at and is served only while they are current; within its
 * swr window it is served stale while one refresh runs for the whole fleet. Nothing here knows
 * about Prisma. A Redis failure is counted, reported and never fails the read.
 */
export class TieredCache {
  readonly #parts: TieredCacheParts;
  readonly #flights = new SingleFlight<Resolution>();
  /** Reads Redis: entries checked and decoded, the fleet lock taken in the same round trip on a miss. */
  readonly #l2: L2Lookup;
  readonly #refreshing = new Map<string, Promise<void>>();
  readonly #refreshFailures = new Map<string, { failures: number; retryAt: number }>();
  readonly waiters = new LandingWaiters();
  readonly #waitBound: WaitBound;
  /** One loader per key for the whole fleet; the others wait for its value to land in Redis. */
  readonly #fleetLoad: FleetLoad;
  /** Fills L1 and stores into Redis what loads return. */
  readonly #fill: CacheFill;
  /** Reads past L1 and the stores they started: close() lets them finish while the connections are open. */
  readonly #inFlight = new InFlight();

  constructor(parts: TieredCacheParts) {
    this.#parts = parts;
    this.#waitBound = new WaitBound(parts.lockTtlMs, parts.redisTimeoutMs);
    this.#fill = new CacheFill(parts, this.#waitBound, this.#inFlight);
    this.#l2 = new L2Lookup(parts, this.#fill);
    this.#fleetLoad = new FleetLoad(parts, this.waiters, this.#waitBound, {
      loadAndStore: (request, current, held) => this.#fill.loadAndStore(request, current, held),
      lookupOrLock: (request, replacing, ownToken, mark) => this.#l2.lookupOrLock(request, replacing, ownToken, mark),
      peek: (request) => this.#l2.peek(request),
      absorb: (error) => this.#absorb(error),
    });
  }

  /** The synchronous L1 lookup of the hot path: it awaits nothing, not Redis, not a lock. */
  readL1(key: string, model: string, policy: ReadPolicy, hot: boolean): L1Hit | undefined {
    const { l1, clock, counters, versions } = this.#parts;
    if (l1 === undefined || !(policy.useL1 || hot)) return undefined;
    const now = clock.now();
    const entry = l1.get(key, now);
    if (entry === undefined || !this.#parts.l1Trusted(entry.keepUntil)) return undefined;
    if (!versions.localMatches(entry.deps)) {
      // Most likely invalidated: Redis's entry is then outdated too, not worth a plain read first.
      this.#l2.forgetHit(key, hot);
      return undefined;
    }
    if (now < entry.freshUntil) {
      counters.hit(model, "l1", entry.negative);
      const early = shouldRefreshEarly(now, entry.freshUntil, entry.loadMs, this.#parts.earlyRefreshBeta, this.#parts.random);
      return [entry.copy(entry.value), early ? "early" : undefined, entry.freshUntil];
    }
    if (now >= entry.staleUntil) return undefined;
    counters.hit(model, "l1", entry.negative);
    counters.stale(model);
    return [entry.copy(entry.value), "stale", entry.freshUntil];
  }

  /**
   * Everything after an L1 miss. Concurrent reads of one key that start in the same epoch (no
   * invalidation seen in between) share one lookup and at most one load; each gets its own copy.
   * A read shares only while the lease holds: a write another instance resolved while this one
   * could not hear Redis in time (a slow link, a frozen or busy process) moved no epoch here yet,
   * so a read started after that write must not join a load that may have started before it.
   */
  async readThrough(request: ReadRequest): Promise<unknown> {
    const { versions, counters, codec } = this.#parts;
    if (versions.hasPending(request.deps)) {
      counters.bypass("pending invalidation");
      return request.load();
    }
    if (this.#parts.redisOpen?.()) {
      counters.bypass("circuit open");
      return request.load();
    }
    if (!this.#parts.registered()) {
      counters.bypass("registration lapsed");
      return request.load();
    }
    const resolve = () => this.#inFlight.track(this.#resolve(request));
    const { value: outcome, shared, alone }: { value: Resolution; shared: boolean; alone: boolean } = this.#parts.l1Trusted() ? await this.#flights.run(`${request.key}#${versions.epoch}`, resolve) : { value: await resolve(), shared: false, alone: true };
    if (outcome === UNAVAILABLE) {
      // Without current versions nothing cached can be validated, nor stored safely.
      counters.bypass("redis unavailable");
      return request.load();
    }
    if (outcome === DIRTY) {
      // A write announced a change of what this read depends on: serve and store nothing until it is confirmed.
      counters.bypass("write in progress");
      return request.load();
    }
    if (shared) counters.coalesced++;
    if (outcome.fromL2) counters.hit(request.model, "l2", outcome.negative);
    else counters.miss(request.model);
    if (outcome.stale) counters.stale(request.model);
    if (request.served !== undefined) noteServed(request.served, outcome.fromL2 ? "l2" : "db", outcome.stale, outcome.freshUntil);
    // A value decoded for this read alone is handed on as it is; one L1 holds, or other reads
    // got, is copied (a caller may mutate what it gets). A loaded one may hold what the codec
    // refused (a null prototype, symbol keys): copied as it is.
    if (alone && !outcome.retained) return outcome.source;
    return outcome.fromL2 ? codec.cloneEncoded(outcome.source) : codec.clone(outcome.source);
  }

  async #resolve(request: ReadRequest): Promise<Resolution> {
    const resolved = await this.#fleetLoad.resolve(request);
    if (resolved === DIRTY) return DIRTY;
    if ("unavailable" in resolved) {
      this.#absorb(resolved.unavailable);
      return UNAVAILABLE;
    }
    // A loaded value is what the store encodes: always copied. The database answered: a refresh
    // of this key that failed before backs off no longer (its backoff grows up to 30 s, and
    // would keep serving a stale value that long after the next outage).
    if ("loaded" in resolved) {
      this.#refreshFailures.delete(request.key);
      return { source: resolved.loaded, retained: true, fromL2: false, stale: false, negative: false, freshUntil: undefined };
    }
    const { entry } = resolved;
    const retained = this.#adopt(request, entry);
    const now = this.#parts.clock.now();
    const stale = now >= entry.freshUntil;
    if (stale) this.refreshInBackground(request, "stale", entry.freshUntil);
    else if (shouldRefreshEarly(now, entry.freshUntil, entry.loadMs, this.#parts.earlyRefreshBeta, this.#parts.random)) {
      this.refreshInBackground(request, "early", entry.freshUntil);
    }
    return { source: entry.value, retained, fromL2: true, stale, negative: request.isNotFound(entry.value), freshUntil: entry.freshUntil };
  }

  /**
   * Refreshes an entry without making anyone wait: one refresh per key in this process, one
   * loader in the fleet. A failing refresh keeps the stale value, backs off and is reported.
   */
  refreshInBackground(request: ReadRequest, reason: RefreshReason, servedFreshUntil: number): void {
    const { counters, clock } = this.#parts;
    const failed = this.#refreshFailures.get(request.key);
    if (this.#refreshing.has(request.key) || (failed !== undefined && clock.now() < failed.retryAt)) return;
    // Bounded: a stale read resolves at once, so nothing the app runs bounds the refreshes it
    // starts, and each holds a fleet lock renewed five times a second while it waits for the
    // database (outside probe 187: 15 000 stale reads during a database outage, Redis taking
    // 20 000 lock renewals a second, the process busy for minutes). Past the bound a read is
    // served stale without one; a later read of the key refreshes it.
    if (this.#refreshing.size >= MAX_BACKGROUND_REFRESHES) return;
    if (reason === "stale") counters.backgroundRefreshes++;
    else counters.earlyRefreshes++;
    const running = this.#refresh(request, servedFreshUntil)
      .then(
        () => void this.#refreshFailures.delete(request.key),
        (error: unknown) => {
          // Loaded for a context that moved on (see UnsharedLoad): nothing to store, nothing failed —
          // unless the application's code threw on the way (its scope function), which nobody else sees.
          if (error instanceof UnsharedLoad) {
            this.#refreshFailures.delete(request.key);
            if (error.cause !== undefined) this.#parts.report(new CacheError("E_REFRESH_FAILED", `background refresh of ${request.model} dropped: the scope function threw when asked again around the load: ${String((error.cause as Error)?.message ?? error.cause)}`, { cause: error.cause }));
            return;
          }
          counters.refreshFailures++;
          const failures = (failed?.failures ?? 0) + 1;
          // A key whose refresh failed and that is never read again would stay: bounded, the backoffs start again.
          if (this.#refreshFailures.size >= MAX_REFRESH_FAILURES_KEPT) this.#refreshFailures.clear();
          this.#refreshFailures.set(request.key, { failures, retryAt: clock.now() + refreshBackoffMs(failures) });
          this.#parts.report(new CacheError("E_REFRESH_FAILED", `background refresh of ${request.model} failed: ${String((error as Error)?.message ?? error)}`, { cause: error }));
        },
      )
      .finally(() => void this.#refreshing.delete(request.key));
    this.#refreshing.set(request.key, running);
  }

  /** Resolves once every background refresh running now has finished. */
  async drain(): Promise<void> {
    while (this.#refreshing.size > 0) await Promise.all(this.#refreshing.values());
  }

  /**
   * Waits up to `timeoutMs` for background refreshes and for reads in flight (with the stores they
   * started), then stores and reports nothing more: a read or refresh still running (stuck on a
   * database lock, say) finishes in the background, its result is not stored, and the Redis
   * commands it sends once the connections closed fail unreported. Resolves with what it abandoned.
   */
  async close(timeoutMs: number): Promise<{ refreshes: number; reads: number }> {
    const settled = await settleWithin(Promise.all([this.drain(), this.#inFlight.settled()]), timeoutMs);
    this.#fill.stop();
    return settled ? { refreshes: 0, reads: 0 } : { refreshes: this.#refreshing.size, reads: this.#inFlight.size };
  }

  async #refresh(request: ReadRequest, servedFreshUntil: number): Promise<void> {
    const resolved = await this.#fleetLoad.resolve(request, servedFreshUntil);
    if (resolved === DIRTY) return;
    if ("unavailable" in resolved) throw resolved.unavailable;
    // Another instance refreshed it already (a newer entry landed): adopt it, load nothing.
    if ("entry" in resolved) this.#adopt(request, resolved.entry);
  }

  /** Fills L1 with a decoded L2 entry; answers whether L1 now holds its value. */
  #adopt(request: ReadRequest, entry: DecodedEntry): boolean {
    return this.#fill.fillL1(request, entry.value, entry, request.isNotFound(entry.value));
  }

  #absorb(error: unknown): void {
    this.#fill.absorb(error);
  }

}

/** What a shared lookup produced: a value from Redis or from the database. */
interface Outcome {
  source: unknown;
  /** Whether something besides this read holds `source` (L1, or the store encoding it). */
  retained: boolean;
  fromL2: boolean;
  stale: boolean;
  negative: boolean;
  /** The served entry's freshUntil; undefined for a database load. */
  freshUntil: number | undefined;
}

const UNAVAILABLE = Symbol("redis unavailable");

/** What a lookup came to: an outcome, Redis unavailable, or a write in progress. */
type Resolution = Outcome | typeof UNAVAILABLE | typeof DIRTY;

export { replicaKeyOf } from "./cache-fill.js";
