import type { CacheStats, ModelStats } from "../types.js";
import type { CounterObserver } from "./events.js";

/** Where a hit was served from. */
export type Tier = "l1" | "l2";

/** Plain counters: incrementing them is the only work the hot path does for observability. */
export class Counters {
  l1Hits = 0;
  l2Hits = 0;
  negativeHits = 0;
  misses = 0;
  dbLoads = 0;
  coalesced = 0;
  redisErrors = 0;
  redisTimeouts = 0;
  encodeFailures = 0;
  oversizeEntries = 0;
  lockAcquisitions = 0;
  /** Misses that waited for another instance's loader instead of querying. */
  lockWaits = 0;
  lockWaitMs = 0;
  /** Lock waits that ended because nobody woke the waiter within its bound (it then loaded by itself). */
  lockWaitTimeouts = 0;
  /** Misses that waited for a load of this same process to land (in process, no Redis round trip). */
  localLockWaits = 0;
  localLockWaitMs = 0;
  staleServes = 0;
  backgroundRefreshes = 0;
  earlyRefreshes = 0;
  refreshFailures = 0;
  /** Unique reads answered "not found" by a Bloom filter, without Redis or the database. */
  bloomRejects = 0;
  bloomBuilds = 0;
  /** Lookups of hot keys sent to a replica key rather than the primary. */
  replicaReads = 0;
  /** Loads whose result was not stored because a write moved the versions during the load. */
  fencedStores = 0;
  invalidationsSent = 0;
  invalidationsReceived = 0;
  /** Invalidations Redis could not take, kept and retried. */
  invalidationsQueued = 0;
  /** Invalidations not acknowledged by every instance within the ack timeout. */
  invalidationAckTimeouts = 0;
  /** Pub/sub messages dropped because they do not parse (another version, a stray or forged PUBLISH). */
  rejectedMessages = 0;
  /** Stored values (entries, Bloom filters) that failed their checks: treated as absent, entries deleted. */
  corruptEntries = 0;
  /** Invalidation backlogs too long to replay, delivered as one namespace-wide bump. */
  invalidationBacklogsCollapsed = 0;
  /** Writes that ran although their announcement could not reach Redis (`onRedisDownWrites: "proceed"`). */
  unannouncedWrites = 0;
  /** Unannounced writes that resolved before their queued invalidation was delivered (the risk taken). */
  undeliveredWrites = 0;
  /** Writes refused before the database because Redis could not take their announcement (`"refuse"`). */
  refusedWrites = 0;
  /** Other instances' writes, announced and never confirmed by a writer that is gone, swept by this instance. */
  abandonedWrites = 0;
  /** Invalidated names close() could not deliver (reported in an `error` event). */
  undeliveredInvalidations = 0;
  /** Times the circuit breaker opened (Redis failing: calls fail fast until a probe succeeds). */
  circuitOpens = 0;
  /** Times the Redis server behind the connection turned out to be another one (failover, restart): L1 flushed, namespace fenced. */
  redisServerChanges = 0;
  readonly #bypasses = new Map<string, number>();
  readonly #clamps = new Map<string, number>();
  readonly #models = new Map<string, ModelStats>();
  /** Set only while someone listens to hit, miss, stale or invalidation events: otherwise one check. */
  observer: CounterObserver | undefined;

  hit(model: string, tier: Tier, negative: boolean): void {
    if (tier === "l1") this.l1Hits++;
    else this.l2Hits++;
    if (negative) this.negativeHits++;
    this.#model(model).hits++;
    this.observer?.hit(model, tier, negative);
  }

  miss(model: string): void {
    this.misses++;
    this.#model(model).misses++;
    this.observer?.miss(model);
  }

  /** A read answered with a stale value (counted as a hit as well). */
  stale(model: string): void {
    this.staleServes++;
    this.observer?.stale(model);
  }

  invalidationSent(names: readonly string[]): void {
    this.invalidationsSent++;
    this.observer?.invalidation("sent", names);
  }

  invalidationReceived(names: readonly string[]): void {
    this.invalidationsReceived++;
    this.observer?.invalidation("received", names);
  }

  /** `$cache.resetStats()`: every counter back to zero (the observer stays). */
  reset(): void {
    for (const [field, value] of Object.entries(this)) {
      if (typeof value === "number") (this as unknown as Record<string, number>)[field] = 0;
    }
    this.#bypasses.clear();
    this.#clamps.clear();
    this.#models.clear();
  }

  /** A read whose requested lifetime was shortened to fit a bound. */
  clamp(reason: string): void {
    this.#clamps.set(reason, (this.#clamps.get(reason) ?? 0) + 1);
  }

  bypass(reason: string): void {
    this.#bypasses.set(reason, (this.#bypasses.get(reason) ?? 0) + 1);
  }

  snapshot(): Omit<CacheStats, "l1Entries" | "l1Bytes" | "pendingInvalidations" | "queryStats" | "hotKeys" | "circuitOpen"> {
    const hits = this.l1Hits + this.l2Hits;
    const lookups = hits + this.misses;
    const models: Record<string, ModelStats> = {};
    for (const [name, stats] of this.#models) models[name] = { ...stats };
    return {
      hits,
      misses: this.misses,
      hitRate: lookups === 0 ? 0 : hits / lookups,
      l1Hits: this.l1Hits,
      l2Hits: this.l2Hits,
      negativeHits: this.negativeHits,
      dbLoads: this.dbLoads,
      coalesced: this.coalesced,
      redisErrors: this.redisErrors,
      redisTimeouts: this.redisTimeouts,
      encodeFailures: this.encodeFailures,
      oversizeEntries: this.oversizeEntries,
      lockAcquisitions: this.lockAcquisitions,
      lockWaits: this.lockWaits,
      lockWaitMs: this.lockWaitMs,
      lockWaitTimeouts: this.lockWaitTimeouts,
      localLockWaits: this.localLockWaits,
      localLockWaitMs: this.localLockWaitMs,
      staleServes: this.staleServes,
      backgroundRefreshes: this.backgroundRefreshes,
      earlyRefreshes: this.earlyRefreshes,
      refreshFailures: this.refreshFailures,
      bloomRejects: this.bloomRejects,
      bloomBuilds: this.bloomBuilds,
      replicaReads: this.replicaReads,
      fencedStores: this.fencedStores,
      invalidationsSent: this.invalidationsSent,
      invalidationsReceived: this.invalidationsReceived,
      invalidationsQueued: this.invalidationsQueued,
      invalidationAckTimeouts: this.invalidationAckTimeouts,
      rejectedMessages: this.rejectedMessages,
      corruptEntries: this.corruptEntries,
      invalidationBacklogsCollapsed: this.invalidationBacklogsCollapsed,
      unannouncedWrites: this.unannouncedWrites,
      undeliveredWrites: this.undeliveredWrites,
      refusedWrites: this.refusedWrites,
      abandonedWrites: this.abandonedWrites,
      undeliveredInvalidations: this.undeliveredInvalidations,
      circuitOpens: this.circuitOpens,
      redisServerChanges: this.redisServerChanges,
      bypasses: Object.fromEntries(this.#bypasses),
      clamps: Object.fromEntries(this.#clamps),
      models,
    };
  }

  #model(name: string): ModelStats {
    let stats = this.#models.get(name);
    if (stats === undefined) {
      stats = { hits: 0, misses: 0 };
      this.#models.set(name, stats);
    }
    return stats;
  }
}
