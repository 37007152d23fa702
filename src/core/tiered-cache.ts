import { UnencodableValueError, type Codec } from "../codec/codec.js";
import { CacheError, CacheStoreError } from "../errors.js";
import type { ReadPolicy } from "../options.js";
import type { Counters } from "../stats/counters.js";
import { parseEntry, serializeEntry } from "../stores/entry.js";
import type { MemoryStore } from "../stores/memory-store.js";
import { RedisTimeoutError, type RedisStore } from "../stores/redis-store.js";
import type { Clock } from "../types.js";
import { jitteredTtl } from "./jitter.js";
import { SingleFlight } from "./single-flight.js";

export interface TieredCacheParts {
  l1: MemoryStore | undefined;
  l2: RedisStore | undefined;
  codec: Codec;
  clock: Clock;
  random: () => number;
  counters: Counters;
  onError: ((error: CacheError) => void) | undefined;
}

/** One cached read: where it lives, how long it may be kept and how to load it. */
export interface ReadRequest {
  key: string;
  model: string;
  policy: ReadPolicy;
  /** Loads the value from the database. Its errors reach the caller and are never cached. */
  load: () => Promise<unknown>;
  /** Whether a loaded value means "not found" (cached for negativeTtl instead of ttl). */
  isNotFound: (value: unknown) => boolean;
}

/**
 * The read path: L1 → L2 (Redis) → database, filling both tiers on the way back. Nothing here
 * knows about Prisma. A Redis failure is counted, reported and treated as a miss.
 */
export class TieredCache {
  readonly #parts: TieredCacheParts;
  readonly #flights = new SingleFlight<unknown>();

  constructor(parts: TieredCacheParts) {
    this.#parts = parts;
  }

  /**
   * The synchronous L1 lookup of the hot path: a fresh entry's value, cloned, or undefined.
   * Returns a one-element tuple so a cached `null` is distinguishable from a miss.
   */
  readL1(key: string, model: string, policy: ReadPolicy): [unknown] | undefined {
    const { l1, clock, counters, codec } = this.#parts;
    if (l1 === undefined || !policy.useL1) return undefined;
    const entry = l1.get(key);
    if (entry === undefined || entry.freshUntil <= clock.now()) return undefined;
    counters.hit(model, "l1", entry.negative);
    return [codec.clone(entry.value)];
  }

  /** Everything after an L1 miss. Concurrent misses of one key in this process share one load. */
  async readThrough(request: ReadRequest): Promise<unknown> {
    const fromL2 = await this.#readL2(request);
    if (fromL2 !== undefined) return fromL2[0];
    this.#parts.counters.miss(request.model);
    const { value: source, shared } = await this.#flights.run(request.key, () => this.#loadAndStore(request));
    if (shared) this.#parts.counters.coalesced++;
    // Every caller gets its own copy: the source object is also what L1 holds.
    return this.#parts.codec.clone(source);
  }

  async #readL2(request: ReadRequest): Promise<[unknown] | undefined> {
    const { l2, l1, codec, clock, counters } = this.#parts;
    if (l2 === undefined) return undefined;
    let text: string | null;
    try {
      text = await l2.get(request.key);
    } catch (error) {
      this.#absorb(error);
      return undefined;
    }
    const entry = text === null ? undefined : parseEntry(text);
    if (entry === undefined || entry.freshUntil <= clock.now()) return undefined;
    const value = codec.decode(entry.payload);
    const negative = request.isNotFound(value);
    counters.hit(request.model, "l2", negative);
    if (l1 !== undefined && request.policy.useL1) {
      l1.set(request.key, { value, freshUntil: entry.freshUntil, staleUntil: entry.staleUntil, negative }, entry.payload.length);
      return [codec.clone(value)];
    }
    return [value];
  }

  async #loadAndStore(request: ReadRequest): Promise<unknown> {
    const { clock, counters } = this.#parts;
    const started = clock.now();
    const value = await request.load();
    counters.dbLoads++;
    this.#store(request, value, clock.now() - started);
    return value;
  }

  #store(request: ReadRequest, value: unknown, loadMs: number): void {
    const { l1, l2, codec, clock, random } = this.#parts;
    const { policy } = request;
    const negative = request.isNotFound(value);
    const baseTtlMs = negative ? policy.negativeTtlMs : policy.ttlMs;
    if (baseTtlMs === 0) return;
    let payload: string;
    try {
      payload = codec.encode(value);
    } catch (error) {
      if (!(error instanceof UnencodableValueError)) throw error;
      this.#parts.counters.encodeFailures++;
      this.#report(new CacheError("E_UNENCODABLE_RESULT", `result of ${request.model} not cached: ${error.message}`, { cause: error }));
      return;
    }
    const now = clock.now();
    const freshUntil = now + jitteredTtl(baseTtlMs, policy.jitter, random);
    const staleUntil = freshUntil + (negative ? 0 : policy.swrMs);
    if (l1 !== undefined && policy.useL1) {
      l1.set(request.key, { value: codec.clone(value), freshUntil, staleUntil, negative }, payload.length);
    }
    if (l2 !== undefined) {
      const text = serializeEntry({ payload, freshUntil, staleUntil, loadMs });
      l2.set(request.key, text, staleUntil - now).catch((error: unknown) => this.#absorb(error));
    }
  }

  #absorb(error: unknown): void {
    const { counters } = this.#parts;
    if (error instanceof RedisTimeoutError) counters.redisTimeouts++;
    else counters.redisErrors++;
    this.#report(error instanceof CacheError ? error : new CacheStoreError("call", String(error), { cause: error }));
  }

  #report(error: CacheError): void {
    try {
      this.#parts.onError?.(error);
    } catch {
      // A throwing error hook must not turn an absorbed cache failure into a failed query.
    }
  }
}
