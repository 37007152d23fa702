import dc from "node:diagnostics_channel";
import { randomUUID } from "node:crypto";
import type { Attributes, BatchObservableCallback, Histogram, Meter, Observable } from "@opentelemetry/api";
import type { CacheStats } from "../types.js";

/**
 * `node:diagnostics_channel` tracing channels, one per kind of operation (the convention of
 * lru-cache and bentocache). Subscribe with `diagnostics_channel.tracingChannel(name).subscribe({ start, asyncEnd, error, ... })`.
 */
export const TRACING_CHANNELS = {
  /** Every cached read (hit or miss); the context carries model, operation and args. */
  read: "prisma-cache-shield:read",
  /** Every write through the extension, including its invalidation. */
  write: "prisma-cache-shield:write",
  /** `$cache.invalidate()`. */
  invalidate: "prisma-cache-shield:invalidate",
  /** `$cache.warm()`; the context gets `result` once it resolves. */
  warm: "prisma-cache-shield:warm",
} as const;

/** The context object a traced operation publishes on its channels. */
export interface TraceContext {
  namespace: string;
  operation: string;
  model?: string;
  args?: unknown;
  /** Set on warm's context when it resolves. */
  result?: unknown;
}

export const tracing = {
  read: dc.tracingChannel<unknown, TraceContext>(TRACING_CHANNELS.read),
  write: dc.tracingChannel<unknown, TraceContext>(TRACING_CHANNELS.write),
  invalidate: dc.tracingChannel<unknown, TraceContext>(TRACING_CHANNELS.invalidate),
  warm: dc.tracingChannel<unknown, TraceContext>(TRACING_CHANNELS.warm),
};

type Reading = Array<[value: number, attributes: Attributes]>;

/** Observable instruments: read from the counters at collection time, so the read path pays nothing for them. */
const OBSERVED: ReadonlyArray<{ name: string; kind: "counter" | "gauge"; description: string; unit?: string; read: (stats: CacheStats) => Reading }> = [
  {
    name: "requests",
    kind: "counter",
    description: "Cached reads by model and result (hit: served from L1 or Redis; miss: went to the database or joined a load)",
    read: (stats) => Object.entries(stats.models).flatMap(([model, m]): Reading => [[m.hits, { model, result: "hit" }], [m.misses, { model, result: "miss" }]]),
  },
  { name: "hits", kind: "counter", description: "Hits by tier", read: (s) => [[s.l1Hits, { tier: "l1" }], [s.l2Hits, { tier: "l2" }]] },
  { name: "negative_hits", kind: "counter", description: "Hits on a cached \"not found\"", read: (s) => [[s.negativeHits, {}]] },
  { name: "bloom_rejects", kind: "counter", description: "Unique reads a Bloom filter answered \"not found\" without Redis or the database", read: (s) => [[s.bloomRejects, {}]] },
  { name: "db_loads", kind: "counter", description: "Database loads made by the cache", read: (s) => [[s.dbLoads, {}]] },
  { name: "coalesced", kind: "counter", description: "Reads that joined another read of the same key in the process (its Redis lookup, and its load if it missed): L2 hits and misses alike", read: (s) => [[s.coalesced, {}]] },
  { name: "lock_waits", kind: "counter", description: "Misses that waited for another instance's loader", read: (s) => [[s.lockWaits, {}]] },
  { name: "stale_serves", kind: "counter", description: "Reads answered with a stale value inside the swr window", read: (s) => [[s.staleServes, {}]] },
  {
    name: "refreshes",
    kind: "counter",
    description: "Background refreshes by reason, and failed ones",
    read: (s) => [[s.backgroundRefreshes, { reason: "stale" }], [s.earlyRefreshes, { reason: "early" }], [s.refreshFailures, { reason: "failed" }]],
  },
  { name: "invalidations", kind: "counter", description: "Invalidations sent and received", read: (s) => [[s.invalidationsSent, { direction: "sent" }], [s.invalidationsReceived, { direction: "received" }]] },
  { name: "redis_errors", kind: "counter", description: "Absorbed Redis failures", read: (s) => [[s.redisErrors, { kind: "error" }], [s.redisTimeouts, { kind: "timeout" }]] },
  { name: "bypasses", kind: "counter", description: "Reads that bypassed the cache, by reason", read: (s) => Object.entries(s.bypasses).map(([reason, n]): [number, Attributes] => [n, { reason }]) },
  { name: "l1_entries", kind: "gauge", description: "Entries in this process's L1", read: (s) => [[s.l1Entries, {}]] },
  { name: "l1_bytes", kind: "gauge", description: "Bytes accounted in this process's L1", unit: "By", read: (s) => [[s.l1Bytes, {}]] },
];

const PREFIX = "prisma_cache_shield.";

/**
 * OpenTelemetry metrics through `@opentelemetry/api`, an optional peer dependency loaded on
 * first use: without it, or without an SDK registered before the client was created (the API
 * is then a no-op), this costs nothing. Counters are observed at collection time; load
 * durations are a histogram. Every series carries the cache `namespace` and its `instance` (a
 * per-process id of this cache: several caches of one namespace in a process — one per tenant
 * database — are separate series, which a backend sums, never one series each overwrites).
 * Counters stay cumulative across `resetStats()`, as OpenTelemetry counters must.
 */
export class Metrics {
  readonly ready: Promise<void>;
  #meter: Meter | undefined;
  #callback: BatchObservableCallback | undefined;
  #observables: Observable[] = [];
  #loadDuration: Histogram | undefined;
  #closed = false;
  readonly #namespace: string;
  readonly #instance = randomUUID().slice(0, 8);
  /** Per counter series (name and attributes), what earlier resets took away: added back to every reading. */
  readonly #carried = new Map<string, number>();
  readonly #stats: () => CacheStats;

  constructor(namespace: string, stats: () => CacheStats) {
    this.#namespace = namespace;
    this.#stats = stats;
    this.ready = import("@opentelemetry/api").then(
      (api) => {
        if (!this.#closed) this.#register(api.metrics.getMeter("prisma-cache-shield"), stats);
      },
      () => {
        // Not installed: metrics stay off.
      },
    );
  }

  /** A database load of `model` took `ms` milliseconds. */
  loaded(model: string, operation: string, ms: number): void {
    this.#loadDuration?.record(ms, { namespace: this.#namespace, instance: this.#instance, model, operation });
  }

  /** Called before the counters are zeroed (`resetStats()`): their values so far are carried into every later reading. */
  countersResetting(): void {
    const snapshot = this.#stats();
    for (const spec of OBSERVED) {
      if (spec.kind !== "counter") continue;
      for (const [value, attributes] of spec.read(snapshot)) {
        const series = seriesKey(spec.name, attributes);
        this.#carried.set(series, (this.#carried.get(series) ?? 0) + value);
      }
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#meter !== undefined && this.#callback !== undefined) this.#meter.removeBatchObservableCallback(this.#callback, this.#observables);
    this.#loadDuration = undefined;
  }

  #register(meter: Meter, stats: () => CacheStats): void {
    this.#meter = meter;
    this.#loadDuration = meter.createHistogram(`${PREFIX}load_duration`, { description: "Database loads made by the cache", unit: "ms" });
    const instruments = OBSERVED.map((spec) => {
      const options = { description: spec.description, ...(spec.unit === undefined ? {} : { unit: spec.unit }) };
      return { spec, observable: spec.kind === "counter" ? meter.createObservableCounter(PREFIX + spec.name, options) : meter.createObservableGauge(PREFIX + spec.name, options) };
    });
    this.#observables = instruments.map((instrument) => instrument.observable);
    this.#callback = (result) => {
      const snapshot = stats();
      for (const { spec, observable } of instruments) {
        for (const [value, attributes] of spec.read(snapshot)) {
          const carried = spec.kind === "counter" ? (this.#carried.get(seriesKey(spec.name, attributes)) ?? 0) : 0;
          result.observe(observable, value + carried, { namespace: this.#namespace, instance: this.#instance, ...attributes });
        }
      }
    };
    meter.addBatchObservableCallback(this.#callback, this.#observables);
  }
}

function seriesKey(name: string, attributes: Attributes): string {
  return `${name} ${JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
}
