import { LRUCache } from "lru-cache";
import { CacheError, CacheStoreError } from "../errors.js";
import { sha256 } from "../key/hash.js";
import type { RedisStore } from "../stores/redis-store.js";
import type { Clock } from "../types.js";
import { ERA_HALF_LIVES, RECORD_QUERIES, TOP_QUERIES } from "./stats-scripts.js";

/** Resolved `queryStats` options. */
export interface QueryStatsSettings {
  /** Fraction of reads recorded, 0 to 1. */
  sampleRate: number;
  /** Most distinct queries kept in Redis per namespace. */
  maxQueries: number;
  halfLifeMs: number;
  flushIntervalMs: number;
}

/** The per-query `cache` option a read carried; replays honour it (tags above all). */
export interface CacheHints {
  ttl?: number;
  swr?: number;
  tags?: readonly string[];
}

/** A read worth recording: what warm() needs to replay it. */
export interface QuerySample {
  model: string;
  operation: string;
  args: Record<string, unknown> | undefined;
  cacheOption: CacheHints | undefined;
}

/** One recorded query, as the fleet's statistics hold it. */
export interface RecordedQuery {
  /** A stable id of the query (a hash of its cache key). */
  id: string;
  model: string;
  operation: string;
  /** The arguments to replay (undefined when `readable` is false). */
  args: Record<string, unknown> | undefined;
  cache: CacheHints | undefined;
  /** The schema fingerprint it was recorded under; another one means the schema changed since. */
  fingerprint: string;
  /** Decayed popularity × load time: only the order of scores within a namespace means something. */
  score: number;
  /** Smoothed database load time in milliseconds, once a load has been seen. */
  loadMs: number | undefined;
  /** False when the stored arguments could not be decoded (written by an incompatible version). */
  readable: boolean;
}

/** Counts of what the recorder did in this process. */
export interface RecorderCounts {
  /** Reads sampled and kept for the next flush. */
  sampled: number;
  /** Samples dropped: arguments that cannot be replayed or are too long, or a full buffer. */
  dropped: number;
  /** Flushes Redis did not take (their samples are lost: statistics are best-effort). */
  flushFailures: number;
}

export interface QueryStatsParts {
  store: RedisStore;
  /** Key prefix with the Redis Cluster hash tag, `{namespace}`: all statistics keys share one slot. */
  prefix: string;
  fingerprint: string;
  settings: QueryStatsSettings;
  clock: Clock;
  random: () => number;
  /** Encodes arguments exactly (Date, Decimal, BigInt, Bytes); throws for what it cannot encode. */
  encodeArgs(args: unknown): string;
  decodeArgs(text: string): unknown;
  report(error: CacheError): void;
}

/** Distinct queries buffered between flushes; beyond it samples are dropped until the next flush. */
export const MAX_PENDING = 1_000;
/** Encoded arguments longer than this are not recorded: bounded Redis memory per query. */
export const MAX_ARGS_LENGTH = 4_096;
/** Statistics outlive a quiet week (a deploy after a weekend still finds them), or two eras. */
const MIN_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** A gap no read count reaches: sampling disabled (kept a small integer so the counter stays an SMI). */
export const NEVER_SAMPLE = 2 ** 30;

interface Pending {
  weight: number;
  /** The replayable query as stored in Redis. */
  json: string;
}

/**
 * Sampled query statistics, shared by the fleet through Redis: one sorted set of query ids by
 * decayed popularity × load time, one hash of replayable queries and one of load times, trimmed
 * to `maxQueries` on every flush (top-K, never every query ever seen). This process buffers at
 * most MAX_PENDING distinct queries between flushes and remembers at most as many load times.
 */
export class QueryStats {
  readonly #parts: QueryStatsParts;
  readonly #keys: [scores: string, queries: string, costs: string, era: string];
  readonly #eraMs: number;
  readonly #retentionMs: number;
  /** Samples since the last flush, by cache key; weights are relative to `#pendingEra`. */
  #pending = new Map<string, Pending>();
  #pendingEra = 0;
  /** Latest load time per cache key: the cost a flush sends along. */
  readonly #loadMs: LRUCache<string, number>;
  /** The batch on its way to Redis: at most one, so this process holds at most 2 × MAX_PENDING samples. */
  #inFlight: Promise<void> | undefined;
  /** A flush asked for while one is in flight: it follows that one. */
  #next: Promise<void> | undefined;
  readonly counts: RecorderCounts = { sampled: 0, dropped: 0, flushFailures: 0 };

  constructor(parts: QueryStatsParts) {
    this.#parts = parts;
    const { prefix, settings } = parts;
    this.#keys = [`${prefix}:qs:scores`, `${prefix}:qs:queries`, `${prefix}:qs:costs`, `${prefix}:qs:era`];
    this.#eraMs = settings.halfLifeMs * ERA_HALF_LIVES;
    this.#retentionMs = Math.max(MIN_RETENTION_MS, 2 * this.#eraMs);
    this.#loadMs = new LRUCache({ max: MAX_PENDING });
  }

  /** Reads until the next sampled one: geometric with mean 1/rate, so periodic traffic cannot alias with it. */
  nextGap(): number {
    return sampleGap(this.#parts.settings.sampleRate, this.#parts.random);
  }

  /** Buffers one sampled read; the next flush adds it to the fleet's statistics. */
  record(key: string, sample: QuerySample): void {
    const { clock, settings } = this.#parts;
    if (settings.sampleRate <= 0) return;
    const now = clock.now();
    const era = Math.floor(now / this.#eraMs);
    if (era !== this.#pendingEra) this.#moveToEra(era);
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      const json = this.#replayable(sample);
      if (json === undefined || this.#pending.size >= MAX_PENDING) {
        this.counts.dropped++;
        return;
      }
      pending = { weight: 0, json };
      this.#pending.set(key, pending);
    }
    // Scaled by 1/rate so instances sampling at different rates add comparable weights.
    pending.weight += 2 ** ((now - era * this.#eraMs) / settings.halfLifeMs) / settings.sampleRate;
    this.counts.sampled++;
    if (this.#pending.size >= MAX_PENDING) void this.flush();
  }

  /** Remembers how long the database took for `key`: recorded queries are weighted by it. */
  loaded(key: string, ms: number): void {
    this.#loadMs.set(key, ms);
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Sends the buffered samples (one script call) and empties the buffer at once; resolves when
   * Redis took them or refused (never rejects). While a batch is in flight, the next one waits for it.
   */
  flush(): Promise<void> {
    if (this.#inFlight !== undefined) {
      return (this.#next ??= this.#inFlight.then(() => {
        this.#next = undefined;
        return this.flush();
      }));
    }
    if (this.#pending.size === 0) return Promise.resolve();
    const batch = this.#pending;
    this.#pending = new Map();
    const sending = this.#send(batch, this.#pendingEra).finally(() => (this.#inFlight = undefined));
    this.#inFlight = sending;
    return sending;
  }

  /** The `limit` most valuable recorded queries, best first. */
  async top(limit: number): Promise<RecordedQuery[]> {
    const [scores, queries, costs] = this.#keys;
    const reply = (await this.#parts.store.run(TOP_QUERIES, [scores, queries, costs], [limit])) as Array<string | null>;
    const out: RecordedQuery[] = [];
    for (let i = 0; i + 3 < reply.length; i += 4) {
      const cost = reply[i + 3];
      out.push(this.#parse(reply[i]!, Number(reply[i + 1]), reply[i + 2] ?? null, cost == null ? undefined : Number(cost)));
    }
    return out;
  }

  async #send(batch: ReadonlyMap<string, Pending>, era: number): Promise<void> {
    const args: Array<string | number> = [era, this.#parts.settings.maxQueries, this.#retentionMs];
    for (const [key, { weight, json }] of batch) args.push(queryId(key), weight, this.#loadMs.get(key) ?? -1, json);
    try {
      await this.#parts.store.run(RECORD_QUERIES, this.#keys, args);
    } catch (error) {
      this.counts.flushFailures++;
      this.#parts.report(error instanceof CacheError ? error : new CacheStoreError("EVALSHA", String(error), { cause: error }));
    }
  }

  /** Re-expresses buffered weights in a new era (2^−32 per era: what the script does to stored scores). */
  #moveToEra(era: number): void {
    const factor = 2 ** (-ERA_HALF_LIVES * (era - this.#pendingEra));
    for (const pending of this.#pending.values()) pending.weight *= factor;
    this.#pendingEra = era;
  }

  /** The query as stored: model, operation, exact arguments, cache option and schema fingerprint. */
  #replayable(sample: QuerySample): string | undefined {
    let args: string | undefined;
    try {
      args = sample.args === undefined ? undefined : this.#parts.encodeArgs(sample.args);
    } catch {
      return undefined;
    }
    if (args !== undefined && args.length > MAX_ARGS_LENGTH) return undefined;
    return JSON.stringify({ m: sample.model, o: sample.operation, a: args, c: sample.cacheOption, f: this.#parts.fingerprint });
  }

  #parse(id: string, score: number, json: string | null, loadMs: number | undefined): RecordedQuery {
    const unreadable: RecordedQuery = { id, model: "", operation: "", args: undefined, cache: undefined, fingerprint: "", score, loadMs, readable: false };
    if (json === null) return unreadable;
    try {
      const stored = JSON.parse(json) as { m?: unknown; o?: unknown; a?: unknown; c?: CacheHints; f?: unknown };
      if (typeof stored.m !== "string" || typeof stored.o !== "string" || typeof stored.f !== "string") return unreadable;
      const args = typeof stored.a === "string" ? (this.#parts.decodeArgs(stored.a) as Record<string, unknown>) : undefined;
      return { id, model: stored.m, operation: stored.o, args, cache: stored.c ?? undefined, fingerprint: stored.f, score, loadMs, readable: true };
    } catch {
      return unreadable;
    }
  }
}

/** Reads until the next sampled one for a sampling rate: 1 at rate 1, NEVER_SAMPLE at rate 0. */
export function sampleGap(rate: number, random: () => number): number {
  if (rate >= 1) return 1;
  if (rate <= 0) return NEVER_SAMPLE;
  return Math.min(NEVER_SAMPLE, 1 + Math.floor(Math.log(1 - random()) / Math.log(1 - rate)));
}

/** The id of a query in the statistics: its cache key hashed (22 characters, 132 bits). */
export function queryId(key: string): string {
  return sha256(key).slice(0, 22);
}
