import { UnencodableValueError, type Codec } from "../codec/codec.js";
import { CacheError, CacheStoreError } from "../errors.js";
import type { Dep, Versions } from "../invalidation/versions.js";
import type { ReadPolicy } from "../options.js";
import type { Counters } from "../stats/counters.js";
import { depsAreCurrent, parseEntry, serializeEntry } from "../stores/entry.js";
import type { MemoryStore } from "../stores/memory-store.js";
import { RedisTimeoutError, type RedisStore } from "../stores/redis-store.js";
import type { Clock } from "../types.js";
import { jitteredTtl } from "./jitter.js";
import { SingleFlight } from "./single-flight.js";

export interface TieredCacheParts {
  l1: MemoryStore | undefined;
  l2: RedisStore | undefined;
  versions: Versions;
  /** Whether L1 may be used now: false while the invalidation subscription is down. */
  l1Trusted: () => boolean;
  landedMessage: (key: string) => string;
  codec: Codec;
  clock: Clock;
  random: () => number;
  counters: Counters;
  report: (error: CacheError) => void;
}

/** One cached read: where it lives, what it depends on, how long it may be kept and how to load it. */
export interface ReadRequest {
  key: string;
  model: string;
  policy: ReadPolicy;
  /** Version names the result depends on (see invalidation/dependencies). */
  deps: readonly string[];
  /** Loads the value from the database. Its errors reach the caller and are never cached. */
  load: () => Promise<unknown>;
  /** Whether a loaded value means "not found" (cached for negativeTtl instead of ttl). */
  isNotFound: (value: unknown) => boolean;
}

/**
 * The read path: L1 → L2 (Redis) → database, filling both tiers on the way back. Every entry
 * records the versions it was loaded at and is served only while they are current. Nothing here
 * knows about Prisma. A Redis failure is counted, reported and never fails the read.
 */
export class TieredCache {
  readonly #parts: TieredCacheParts;
  readonly #flights = new SingleFlight<unknown>();

  constructor(parts: TieredCacheParts) {
    this.#parts = parts;
  }

  /**
   * The synchronous L1 lookup of the hot path: a fresh, current entry's value, cloned, or
   * undefined. Returns a one-element tuple so a cached `null` is distinguishable from a miss.
   */
  readL1(key: string, model: string, policy: ReadPolicy): [unknown] | undefined {
    const { l1, clock, counters, codec, versions } = this.#parts;
    if (l1 === undefined || !policy.useL1 || !this.#parts.l1Trusted()) return undefined;
    const now = clock.now();
    const entry = l1.get(key, now);
    if (entry === undefined || entry.freshUntil <= now || !versions.localMatches(entry.deps)) return undefined;
    counters.hit(model, "l1", entry.negative);
    return [codec.clone(entry.value)];
  }

  /** Everything after an L1 miss. Concurrent misses of one key at one version share one load. */
  async readThrough(request: ReadRequest): Promise<unknown> {
    const { versions, counters } = this.#parts;
    if (versions.hasPending(request.deps)) {
      counters.bypass("pending invalidation");
      return request.load();
    }
    let current: number[];
    let stored: string | null;
    try {
      [stored, current] = await Promise.all([this.#parts.l2?.get(request.key) ?? null, versions.fetch(request.deps)]);
    } catch (error) {
      // Without current versions nothing cached can be validated, nor stored safely.
      this.#absorb(error);
      counters.bypass("redis unavailable");
      return request.load();
    }
    const fromL2 = stored === null ? undefined : this.#serveStored(request, stored, current);
    if (fromL2 !== undefined) return fromL2[0];
    counters.miss(request.model);
    const flightKey = `${request.key}@${current.join(",")}`;
    const { value: source, shared } = await this.#flights.run(flightKey, () => this.#loadAndStore(request, current));
    if (shared) counters.coalesced++;
    // Every caller gets its own copy: the source object is also what L1 holds.
    return this.#parts.codec.clone(source);
  }

  #serveStored(request: ReadRequest, text: string, current: readonly number[]): [unknown] | undefined {
    const { codec, clock, counters } = this.#parts;
    const entry = parseEntry(text);
    if (entry === undefined || entry.freshUntil <= clock.now() || !depsAreCurrent(entry.deps, request.deps, current)) return undefined;
    const value = codec.decode(entry.payload);
    const negative = request.isNotFound(value);
    counters.hit(request.model, "l2", negative);
    if (this.#fillL1(request, value, entry.freshUntil, entry.staleUntil, negative, entry.deps, entry.payload.length)) {
      return [codec.clone(value)];
    }
    return [value];
  }

  async #loadAndStore(request: ReadRequest, current: readonly number[]): Promise<unknown> {
    const { clock, counters } = this.#parts;
    const started = clock.now();
    const value = await request.load();
    counters.dbLoads++;
    const deps: Dep[] = request.deps.map((name, i) => [name, current[i]!] as const);
    this.#store(request, value, clock.now() - started, deps);
    return value;
  }

  #store(request: ReadRequest, value: unknown, loadMs: number, deps: readonly Dep[]): void {
    const { l2, codec, clock, random, versions, counters } = this.#parts;
    const { policy } = request;
    const negative = request.isNotFound(value);
    const baseTtlMs = negative ? policy.negativeTtlMs : policy.ttlMs;
    if (baseTtlMs === 0) return;
    let payload: string;
    try {
      payload = codec.encode(value);
    } catch (error) {
      if (!(error instanceof UnencodableValueError)) throw error;
      counters.encodeFailures++;
      this.#parts.report(new CacheError("E_UNENCODABLE_RESULT", `result of ${request.model} not cached: ${error.message}`, { cause: error }));
      return;
    }
    const now = clock.now();
    const freshUntil = now + jitteredTtl(baseTtlMs, policy.jitter, random);
    const staleUntil = freshUntil + (negative ? 0 : policy.swrMs);
    this.#fillL1(request, codec.clone(value), freshUntil, staleUntil, negative, deps, payload.length);
    if (l2 === undefined) return;
    const text = serializeEntry({ payload, freshUntil, staleUntil, loadMs, deps });
    versions.storeFenced(request.key, text, staleUntil - now, deps, this.#parts.landedMessage(request.key)).then(
      (stored) => void (stored || counters.fencedStores++),
      (error: unknown) => this.#absorb(error),
    );
  }

  /** Fills L1 if it is usable and the recorded versions are still the latest this process knows. */
  #fillL1(request: ReadRequest, value: unknown, freshUntil: number, staleUntil: number, negative: boolean, deps: readonly Dep[], payloadLength: number): boolean {
    const { l1, versions } = this.#parts;
    if (l1 === undefined || !request.policy.useL1 || !this.#parts.l1Trusted()) return false;
    if (!versions.localMatches(deps)) {
      this.#parts.counters.fencedStores++;
      return false;
    }
    l1.set(request.key, { value, freshUntil, staleUntil, negative, deps }, payloadLength);
    return true;
  }

  #absorb(error: unknown): void {
    const { counters } = this.#parts;
    if (error instanceof RedisTimeoutError) counters.redisTimeouts++;
    else counters.redisErrors++;
    this.#parts.report(error instanceof CacheError ? error : new CacheStoreError("call", String(error), { cause: error }));
  }
}
