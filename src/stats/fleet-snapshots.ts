import type { RedisStore } from "../stores/redis-store.js";
import type { CacheStats } from "../types.js";
import { LIVE_INSTANCES, PUBLISH_SNAPSHOT, REMOVE_SNAPSHOT } from "./stats-scripts.js";

/** The counters of every live instance, added up: what `$cache.fleetStats()` and the CLI's `stats` show. */
export interface FleetStats {
  namespace: string;
  /** Instances that published their counters within the last few flush intervals (this one included). */
  instances: number;
  /** Their counters summed (hit rates recomputed); undefined when no instance published. */
  stats: CacheStats | undefined;
  /** The models this client caches. */
  cachedModels: string[];
  /** Every model of this client's schema: other instances may cache models this one does not (what the CLI's `flush` without `--model` invalidates). */
  schemaModels: string[];
  /** Set when Redis could not be read: `instances` and `stats` are this instance's alone. */
  redisUnavailable?: true;
  /** Entries stored in Redis per model under the current schema, when asked for (`countEntries`) and countable (not on a Cluster). */
  entries?: Record<string, number>;
}

/**
 * Each instance writes its counters to Redis on every statistics flush (one key with a TTL plus
 * its id in a sorted set by publish time), so a fresh process such as the CLI can show what the
 * fleet did. Instances that stop publishing drop out after the TTL: the set stays bounded.
 */
export class FleetSnapshots {
  readonly #store: RedisStore;
  readonly #instances: string;
  readonly #mine: string;
  readonly #prefix: string;
  readonly #id: string;
  readonly #ttlMs: number;

  constructor(store: RedisStore, prefix: string, instanceId: string, ttlMs: number) {
    this.#store = store;
    this.#prefix = prefix;
    this.#instances = `${prefix}:fleet`;
    this.#mine = `${prefix}:fleet:${instanceId}`;
    this.#id = instanceId;
    this.#ttlMs = ttlMs;
  }

  async publish(stats: CacheStats): Promise<void> {
    await this.#store.run(PUBLISH_SNAPSHOT, [this.#instances, this.#mine], [JSON.stringify(stats), this.#ttlMs, this.#id]);
  }

  async remove(): Promise<void> {
    await this.#store.run(REMOVE_SNAPSHOT, [this.#instances, this.#mine], [this.#id]);
  }

  async read(): Promise<Pick<FleetStats, "instances" | "stats">> {
    const ids = (await this.#store.run(LIVE_INSTANCES, [this.#instances], [this.#ttlMs])) as string[];
    const texts = await this.#store.mget(ids.map((id) => `${this.#prefix}:fleet:${id}`));
    const snapshots: CacheStats[] = [];
    for (const text of texts) {
      if (text === null) continue;
      try {
        snapshots.push(JSON.parse(text) as CacheStats);
      } catch {
        // A snapshot written by an incompatible version: leave it out.
      }
    }
    return { instances: snapshots.length, stats: snapshots.length === 0 ? undefined : sumStats(snapshots) };
  }
}

/** Hot keys the fleet view keeps, hottest first. */
const FLEET_HOT_KEYS = 20;

/**
 * Adds counters up field by field (nested records too, such as per-model stats and bypasses),
 * merges the instances' hot keys (estimates of one key add up), then recomputes the hit rate,
 * which does not add.
 */
export function sumStats(list: readonly CacheStats[]): CacheStats {
  const total: Record<string, unknown> = {};
  const hot = new Map<string, number>();
  for (const stats of list) {
    addInto(total, stats as unknown as Record<string, unknown>);
    for (const { key, estimate } of stats.hotKeys ?? []) hot.set(key, (hot.get(key) ?? 0) + estimate);
  }
  const sum = total as unknown as CacheStats;
  const lookups = sum.hits + sum.misses;
  sum.hitRate = lookups === 0 ? 0 : sum.hits / lookups;
  // Whether any instance has its circuit open now (a flag does not add up).
  sum.circuitOpen = list.some((stats) => stats.circuitOpen === true);
  sum.hotKeys = [...hot].sort((a, b) => b[1] - a[1]).slice(0, FLEET_HOT_KEYS).map(([key, estimate]) => ({ key, estimate }));
  return sum;
}

function addInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (typeof value === "number") target[key] = ((target[key] as number | undefined) ?? 0) + value;
    else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const into = (target[key] ??= {}) as Record<string, unknown>;
      addInto(into, value as Record<string, unknown>);
    }
  }
}
