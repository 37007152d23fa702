import { LRUCache } from "lru-cache";
import { CacheError, CacheStoreError } from "../errors.js";
import { sha256 } from "../key/hash.js";
import type { RedisStore } from "../stores/redis-store.js";
import { HeavyHitters } from "./heavy-hitters.js";
import { queryShape } from "./query-shape.js";
import { ERA_HALF_LIVES, RECORD_QUERIES, TOP_QUERIES } from "./stats-scripts.js";

/** A tracked query whose arguments cannot be replayed (or are too long, or Prisma refuses them): never recorded. */
const UNREPLAYABLE = "";

/** Resolved `queryStats` options. */
export interface QueryStatsSettings {
  /** False when this instance counts no reads (it still reads what the fleet recorded). */
  counting: boolean;
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

/** What is kept of a tracked query: what a flush sends. */
export interface TrackedQuery {
  shape: string;
  json: string | typeof UNREPLAYABLE;
}

/** A counted read: what warm() needs to replay it. */
/** A read as the cache holds it (a LazyQuery): its members are `$`-named so that no relation's fluent method is hidden by one. */
export interface QuerySample {
  $model: string;
  $operation: string;
  $args: Record<string, unknown> | undefined;
  $cacheOption: CacheHints | undefined;
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
  /** Decayed popularity × load time of its shape: only the order of scores within a namespace means something. */
  score: number;
  /** Smoothed database load time of queries of its shape, in milliseconds, once a load has been seen. */
  loadMs: number | undefined;
  /** False when the stored arguments could not be decoded (written by an incompatible version). */
  readable: boolean;
}

/** Counts of what the recorder did in this process. */
export interface RecorderCounts {
  /** Reads counted (every cached read through the extension, warm()'s replays excepted). */
  counted: number;
  /** Distinct queries tracked in process now (at most the tracker's capacity). */
  tracked: number;
  /** Queries sent to Redis, summed over flushes (each flush sends at most `maxQueries`). */
  flushed: number;
  /** Queries not recorded: arguments that cannot be replayed, or too long. */
  dropped: number;
  /** Flushes Redis did not take (their counts are lost: statistics are best-effort). */
  flushFailures: number;
}

export interface QueryStatsParts {
  store: RedisStore;
  /** Key prefix with the Redis Cluster hash tag, `{namespace}`: all statistics keys share one slot. */
  prefix: string;
  fingerprint: string;
  /**
   * The key a query is recorded under (its id is that key hashed): its cache key without the
   * client's options and database, so clients that differ only in those count one query.
   */
  queryKeyOf?: (key: string) => string;
  settings: QueryStatsSettings;
  /** Encodes arguments exactly (Date, Decimal, BigInt, Bytes); throws for what it cannot encode. */
  encodeArgs(args: unknown): string;
  decodeArgs(text: string): unknown;
  report(error: CacheError): void;
}

/** Queries tracked in process per query kept in Redis: enough that the top `maxQueries` are found. */
export const TRACKED_PER_RECORDED = 2;
/** Encoded arguments longer than this are not recorded: bounded Redis memory per query. */
export const MAX_ARGS_LENGTH = 4_096;
/** Statistics outlive a quiet week (a deploy after a weekend still finds them), or two eras. */
const MIN_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * Query statistics, shared by the fleet through Redis: one sorted set of query ids by decayed
 * popularity, one hash of replayable queries, one of their shapes and one of load times per
 * shape, trimmed to the `maxQueries` most popular on every flush (top-K, never every query ever
 * seen); warm() replays the most valuable of them (popularity × load time of the shape). In process, every read is
 * counted in a bounded heavy-hitters structure (2 × maxQueries keys); a flush sends the top
 * `maxQueries` of the interval with their counts, and Redis adds them up across the fleet.
 */
export class QueryStats {
  readonly #parts: QueryStatsParts;
  readonly #keys: [scores: string, queries: string, costs: string, era: string, shapes: string, firstCosts: string];
  readonly #retentionMs: number;
  /** Reads per query since the last flush; undefined when this instance counts nothing. */
  readonly popularity: HeavyHitters<TrackedQuery, QuerySample> | undefined;
  /** Load times this interval per query shape (sum of logs, count): a flush sends their geometric means. */
  readonly #loads: LRUCache<string, { logSum: number; count: number }>;
  /** Shapes this process has loaded before (see loaded). */
  readonly #shapesLoaded: LRUCache<string, true>;
  /** This interval's first loads of shapes in this process (ms): a cost only where none better is known. */
  readonly #firstLoads: LRUCache<string, number>;
  /** The batch on its way to Redis: at most one. */
  #inFlight: Promise<void> | undefined;
  /** A flush asked for while one is in flight: it follows that one. */
  #next: Promise<void> | undefined;
  readonly #counts = { flushed: 0, dropped: 0, flushFailures: 0 };
  /** Reads counted before the last `resetStats()`. */
  #readsAtReset = 0;

  constructor(parts: QueryStatsParts) {
    this.#parts = parts;
    const { prefix, settings } = parts;
    this.#keys = [`${prefix}:qs:scores`, `${prefix}:qs:queries`, `${prefix}:qs:costs`, `${prefix}:qs:era`, `${prefix}:qs:shapes`, `${prefix}:qs:first-costs`];
    this.#retentionMs = Math.max(MIN_RETENTION_MS, 2 * settings.halfLifeMs * ERA_HALF_LIVES);
    const tracked = settings.maxQueries * TRACKED_PER_RECORDED;
    // Encoded at the first read: the arguments as they are now (the caller may reuse its object
    // for the next read), and only what a flush sends, at most MAX_ARGS_LENGTH of them: a copy of
    // the arguments would keep whatever they hold (an outside probe: 1 500 distinct reads with a
    // 1 MB string each held 1.4 GB), and a read's query object also holds its result.
    this.popularity = settings.counting ? new HeavyHitters(tracked, (sample: QuerySample) => ({ shape: queryShape(sample.$model, sample.$operation, sample.$args), json: this.#encode(sample) })) : undefined;
    this.#loads = new LRUCache({ max: tracked });
    this.#shapesLoaded = new LRUCache({ max: tracked });
    this.#firstLoads = new LRUCache({ max: tracked });
  }

  get counts(): RecorderCounts {
    return { counted: (this.popularity?.counts.reads ?? 0) - this.#readsAtReset, tracked: this.popularity?.size ?? 0, ...this.#counts };
  }

  /** `resetStats()`: the counts start again from zero (what is tracked, and recorded in Redis, stays). */
  resetCounts(): void {
    this.#readsAtReset = this.popularity?.counts.reads ?? 0;
    this.#counts.flushed = this.#counts.dropped = this.#counts.flushFailures = 0;
  }

  /**
   * Remembers how long the database took for a query: recorded queries are weighted by the load
   * time of their shape (a geometric mean: one outlier moves it little).
   */
  loaded(sample: QuerySample, ms: number): void {
    if (this.popularity === undefined) return;
    const shape = queryShape(sample.$model, sample.$operation, sample.$args);
    // A shape's first load in a process is not its cost: Prisma compiles the query then, and the
    // process's first one opens a connection (outside probe 239: 243 ms for a 6 ms query, which
    // then outranked costlier queries 25 times over in warm()). It is sent apart, and counts only
    // for a shape no process loaded twice — a costly query the cache serves well is loaded once
    // (outside probe 242: left out, it counted 1 ms, and warm() skipped it).
    if (!this.#shapesLoaded.has(shape)) {
      this.#shapesLoaded.set(shape, true);
      this.#firstLoads.set(shape, ms);
      return;
    }
    const loads = this.#loads.get(shape);
    const log = Math.log(Math.max(ms, 0.01));
    if (loads === undefined) this.#loads.set(shape, { logSum: log, count: 1 });
    else {
      loads.logSum += log;
      loads.count++;
    }
  }

  /**
   * A load of the query tracked under `key` failed: one Prisma refused as invalid is never
   * recorded, since warm() would replay it, and report it failed, at every start. Other errors (a
   * lost connection, a timeout) may not recur: the query stays.
   */
  loadFailed(key: string, error: unknown): void {
    if ((error as { name?: unknown } | null)?.name === "PrismaClientValidationError") this.neverRecord(key);
  }

  /** The query tracked under `key` is not to be recorded: a replay would fail, or not be cached (a read the cache leaves to Prisma). */
  neverRecord(key: string): void {
    const tracked = this.popularity?.itemOf(key);
    if (tracked !== undefined) tracked.json = UNREPLAYABLE;
  }

  /**
   * Sends the top queries counted since the last flush (one script call) and starts a new
   * interval at once; resolves when Redis took them or refused (never rejects). While a batch is
   * in flight, the next one waits for it.
   */
  flush(): Promise<void> {
    if (this.#inFlight !== undefined) {
      return (this.#next ??= this.#inFlight.then(() => {
        this.#next = undefined;
        return this.flush();
      }));
    }
    const batch = this.#takeBatch();
    if (batch === undefined) return Promise.resolve();
    const sending = this.#send(batch).finally(() => (this.#inFlight = undefined));
    this.#inFlight = sending;
    return sending;
  }

  /** The `limit` most valuable recorded queries, best first. */
  async top(limit: number): Promise<RecordedQuery[]> {
    const [scores, queries, costs, , shapes, firstCosts] = this.#keys;
    const reply = (await this.#parts.store.run(TOP_QUERIES, [scores, queries, costs, shapes, firstCosts], [limit])) as Array<string | null>;
    const out: RecordedQuery[] = [];
    for (let i = 0; i + 3 < reply.length; i += 4) {
      const cost = reply[i + 3];
      out.push(this.#parse(reply[i]!, Number(reply[i + 1]), reply[i + 2] ?? null, cost == null ? undefined : Number(cost)));
    }
    return out;
  }

  /**
   * The script's arguments for the interval's top queries, or undefined when nothing was read.
   * The script weighs their reads (forward decay, on Redis's clock: see RECORD_QUERIES).
   */
  #takeBatch(): Array<string | number> | undefined {
    const top = this.popularity?.drain(this.#parts.settings.maxQueries) ?? [];
    if (top.length === 0 && this.#loads.size === 0 && this.#firstLoads.size === 0) return undefined;
    const { settings } = this.#parts;
    const queries: Array<string | number> = [];
    for (const { key, count, item } of top) {
      if (item.json === UNREPLAYABLE) {
        this.#counts.dropped++;
        continue;
      }
      queries.push(queryId(this.#parts.queryKeyOf?.(key) ?? key), count, item.shape, item.json);
    }
    const costs: Array<string | number> = [];
    for (const [shape, { logSum, count }] of this.#loads.entries()) costs.push(shape, Math.exp(logSum / count));
    const firstCosts: Array<string | number> = [];
    for (const [shape, ms] of this.#firstLoads.entries()) firstCosts.push(shape, ms);
    this.#loads.clear();
    this.#firstLoads.clear();
    return [settings.halfLifeMs, settings.maxQueries, this.#retentionMs, queries.length / 4, costs.length / 2, ...queries, ...costs, ...firstCosts];
  }

  async #send(args: Array<string | number>): Promise<void> {
    try {
      await this.#parts.store.run(RECORD_QUERIES, this.#keys, args);
      this.#counts.flushed += args[3] as number;
    } catch (error) {
      this.#counts.flushFailures++;
      this.#parts.report(error instanceof CacheError ? error : new CacheStoreError("EVALSHA", String(error), { cause: error }));
    }
  }

  /** The query as stored: model, operation, exact arguments, cache option and schema fingerprint. */
  #encode(sample: QuerySample): string | typeof UNREPLAYABLE {
    let args: string | undefined;
    try {
      args = sample.$args === undefined ? undefined : this.#parts.encodeArgs(sample.$args);
    } catch {
      return UNREPLAYABLE;
    }
    if (args !== undefined && args.length > MAX_ARGS_LENGTH) return UNREPLAYABLE;
    return JSON.stringify({ m: sample.$model, o: sample.$operation, a: args, c: sample.$cacheOption, f: this.#parts.fingerprint });
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

/** The id of a query in the statistics: its cache key hashed (22 characters, 132 bits). */
export function queryId(key: string): string {
  return sha256(key).slice(0, 22);
}
