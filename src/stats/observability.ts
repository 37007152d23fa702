import { randomUUID } from "node:crypto";
import { CacheError, CacheStoreError } from "../errors.js";
import { DEFAULTS, type ResolvedOptions } from "../options.js";
import { RedisStore } from "../stores/redis-store.js";
import type { CacheStats } from "../types.js";
import type { Counters } from "./counters.js";
import { countEntries } from "./entry-census.js";
import type { CacheEvents } from "./events.js";
import { FleetSnapshots, type FleetStats } from "./fleet-snapshots.js";
import { LowHitRateAlert } from "./hit-rate-alert.js";
import type { HeavyHitters } from "./heavy-hitters.js";
import { QueryStats, type QuerySample, type RecordedQuery, type RecorderCounts, type TrackedQuery } from "./query-stats.js";
import { Metrics } from "./telemetry.js";

export interface ObservabilityParts {
  options: ResolvedOptions;
  counters: Counters;
  events: CacheEvents;
  fingerprint: string;
  /** See QueryStatsParts.queryKeyOf. */
  queryKeyOf: (key: string) => string;
  /** The value codec, for arguments that must be replayed exactly. */
  argsCodec: { encode(value: unknown): string; decode(text: string): unknown };
  /** The full `$cache.stats()` snapshot. */
  stats: () => CacheStats;
  report: (error: CacheError) => void;
}

/** Snapshots of counters live this many flush intervals in Redis, so a missed publish or two is harmless. */
const SNAPSHOT_TTL_INTERVALS = 3;

/**
 * Everything the cache tells about itself beyond `stats()`: query statistics (what
 * warm() replays), the fleet view of counters, events and the low-hit-rate alert, OpenTelemetry
 * metrics. One timer per client flushes query counts and publishes counters; it never keeps the
 * process alive. Redis failures here are reported and never reach a query.
 */
export class Observability {
  readonly #parts: ObservabilityParts;
  readonly #queryStats: QueryStats | undefined;
  readonly #fleet: FleetSnapshots | undefined;
  readonly #alert: LowHitRateAlert | undefined;
  readonly #metrics: Metrics;
  readonly #timer: NodeJS.Timeout | undefined;
  #publishing: Promise<void> | undefined;
  #closed = false;

  constructor(parts: ObservabilityParts) {
    this.#parts = parts;
    const { options, counters, events, fingerprint, argsCodec, report } = parts;
    events.observe((observer) => (counters.observer = observer));
    const store = options.redis === undefined ? undefined : new RedisStore(options.redis, options.redisTimeoutMs);
    const prefix = `{${options.namespace}}`;
    // With `queryStats: false` this instance records nothing, but still reads what the fleet recorded (warm, top).
    const settings = options.queryStats ?? { counting: false, maxQueries: DEFAULTS.statsMaxQueries, halfLifeMs: DEFAULTS.statsHalfLife * 1000, flushIntervalMs: DEFAULTS.statsFlushInterval };
    if (store !== undefined) {
      this.#queryStats = new QueryStats({
        store,
        prefix,
        fingerprint,
        queryKeyOf: parts.queryKeyOf,
        settings,
        encodeArgs: (args) => argsCodec.encode(args),
        decodeArgs: (text) => argsCodec.decode(text),
        report,
      });
      const intervalMs = settings.flushIntervalMs;
      this.#fleet = new FleetSnapshots(store, prefix, randomUUID(), Math.max(intervalMs * SNAPSHOT_TTL_INTERVALS, 15_000));
      this.#timer = setInterval(() => void this.#flushAll(), intervalMs);
      this.#timer.unref();
    }
    if (options.lowHitRateAlert !== undefined) {
      this.#alert = new LowHitRateAlert(options.lowHitRateAlert, () => counters.snapshot().models, options.clock, (event) => events.alert(event));
      this.#alert.start();
    }
    this.#metrics = new Metrics(options.namespace, parts.stats);
  }

  /** Where every read is counted (the read path calls it directly); undefined when nothing is recorded. */
  get popularity(): HeavyHitters<TrackedQuery, QuerySample> | undefined {
    return this.#queryStats?.popularity;
  }

  /**
   * Times a database load of the query counted under `key`: recorded queries are weighted by it,
   * and it feeds the load-duration histogram. A load Prisma refused is not recorded (see loadFailed).
   */
  timeLoad(query: QuerySample, key: string, load: () => PromiseLike<unknown>): Promise<unknown> {
    const { clock } = this.#parts.options;
    const started = clock.now();
    return Promise.resolve(load()).then(
      (value) => {
        const ms = clock.now() - started;
        this.#queryStats?.loaded(query, ms);
        this.#metrics.loaded(query.$model, query.$operation, ms);
        return value;
      },
      (error: unknown) => {
        this.#queryStats?.loadFailed(key, error);
        throw error;
      },
    );
  }

  /** The read counted under `key` is left to Prisma, uncached: never recorded, so warm() never replays it. */
  neverRecord(key: string): void {
    this.#queryStats?.neverRecord(key);
  }

  /** Reports a cache error: the `error` event and `onError`. */
  error(error: CacheError): void {
    this.#parts.report(error);
  }

  get recorderCounts(): RecorderCounts {
    return this.#queryStats?.counts ?? { counted: 0, tracked: 0, flushed: 0, dropped: 0, flushFailures: 0 };
  }

  /** The most valuable recorded queries, best first (none without Redis or with statistics off). */
  async topQueries(limit: number): Promise<RecordedQuery[]> {
    return this.#queryStats === undefined ? [] : this.#queryStats.top(limit);
  }

  async fleetStats(): Promise<Pick<FleetStats, "instances" | "stats">> {
    if (this.#fleet === undefined) return { instances: 1, stats: this.#parts.stats() };
    // An instance that served reads or writes counts itself with what it counted so far, not from
    // its next flush (outside probe 247: `instances: 0` right after an instance's first reads); a
    // reader that served none, such as the CLI, does not count itself.
    if (servedAny(this.#parts.stats())) await this.#publish();
    return this.#fleet.read();
  }

  /** Stored entries per model in Redis (undefined without Redis, or on a Cluster). */
  async entryCounts(): Promise<Record<string, number> | undefined> {
    const { redis, namespace, redisTimeoutMs } = this.#parts.options;
    // A page of SCAN walks up to 1 000 keys: more than one lookup's time, still bounded.
    return redis === undefined ? undefined : countEntries(redis, namespace, this.#parts.fingerprint, Math.max(1_000, 4 * redisTimeoutMs));
  }

  /** Before `resetStats()` zeroes the counters: metrics carry what they counted so far (see Metrics). */
  countersResetting(): void {
    this.#metrics.countersResetting();
  }

  /** After `resetStats()`: the alert's window restarts from the zeroed counters. */
  countersReset(): void {
    this.#alert?.reset();
    this.#queryStats?.resetCounts();
  }

  /**
   * Flushes buffered samples and publishes the counters now; also waits for metrics to load. Once
   * closed there is nothing left to flush and no connection to send it on (outside probe 128:
   * `drain()` after `close()` reported a Redis failure).
   */
  async drain(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([this.#flushAll(), this.#metrics.ready]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#alert?.stop();
    this.#metrics.close();
    await this.#queryStats?.flush();
    await this.#fleet?.remove().catch((error: unknown) => this.#absorb(error));
  }

  async #flushAll(): Promise<void> {
    await Promise.all([this.#queryStats?.flush(), this.#publish()]);
  }

  /** One publish at a time; a caller arriving during one waits for it. */
  #publish(): Promise<void> {
    if (this.#fleet === undefined) return Promise.resolve();
    const fleet = this.#fleet;
    this.#publishing ??= fleet
      .publish(this.#parts.stats())
      .catch((error: unknown) => this.#absorb(error))
      .finally(() => (this.#publishing = undefined));
    return this.#publishing;
  }

  #absorb(error: unknown): void {
    this.#parts.report(error instanceof CacheError ? error : new CacheStoreError("EVALSHA", String(error), { cause: error }));
  }
}

function servedAny(stats: CacheStats): boolean {
  return stats.hits + stats.misses + stats.invalidationsSent > 0 || Object.values(stats.bypasses).some((count) => count > 0);
}
