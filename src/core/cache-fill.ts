import { UnencodableValueError } from "../codec/codec.js";
import { CacheError, CacheStoreError } from "../errors.js";
import type { Dep } from "../invalidation/versions.js";
import { serializeEntry, type CacheEntry } from "../stores/entry.js";
import { RedisTimeoutError } from "../stores/redis-store.js";
import type { StoreOutcome } from "./fleet-load.js";
import type { HeldLock } from "./fleet-lock.js";
import type { InFlight } from "./in-flight.js";
import { jitteredTtl } from "./jitter.js";
import type { ReadRequest } from "./read-request.js";
import type { TieredCacheParts } from "./tiered-cache.js";
import type { WaitBound } from "./wait-bound.js";

/**
 * The filling side of the read path: a load's result goes into L1 at once and into Redis in the
 * background, fenced by the versions captured before loading (and into a hot key's replicas).
 */
export class CacheFill {
  readonly #parts: TieredCacheParts;
  /** Learns the models' load times, which bound lock waiters' waits. */
  readonly #waitBound: WaitBound;
  /** Set by close(): loads still running (abandoned refreshes and reads) store nothing. */
  #closed = false;
  /** The stores this starts outlive their reads: close() waits for them (see TieredCache.close). */
  readonly #inFlight: InFlight;
  /** Models whose unencodable result was reported: once each (every such read would, and a computed function field makes every read so). */
  readonly #unencodableReported = new Set<string>();
  /** Models whose result over maxEntrySize was reported (once each). */
  readonly #oversizeReported = new Set<string>();

  constructor(parts: TieredCacheParts, waitBound: WaitBound, inFlight: InFlight) {
    this.#parts = parts;
    this.#waitBound = waitBound;
    this.#inFlight = inFlight;
  }

  /** After close(): store nothing more. */
  stop(): void {
    this.#closed = true;
  }

  /** Loads, fills L1 and starts the L2 store; `stored` settles when the store is done (never rejects). */
  async loadAndStore(request: ReadRequest, current: readonly number[], held: HeldLock | undefined): Promise<{ value: unknown; stored: Promise<StoreOutcome> }> {
    const { clock, counters } = this.#parts;
    const started = clock.now();
    const value = await request.load();
    counters.dbLoads++;
    this.#waitBound.observe(request.model, clock.now() - started);
    const notStored = request.whyNotStored?.(value);
    if (notStored !== undefined) {
      counters.bypass(notStored);
      return { value, stored: Promise.resolve("skipped") };
    }
    const deps: Dep[] = request.deps.map((name, i) => [name, current[i]!] as const);
    return { value, stored: this.#store(request, value, clock.now() - started, deps, held) };
  }

  /** Writes L1 now and L2 in the background; says whether L2 got it and whether that released `held`. */
  #store(request: ReadRequest, value: unknown, loadMs: number, deps: readonly Dep[], held: HeldLock | undefined): Promise<StoreOutcome> {
    const { l2, codec, clock, random, versions, counters } = this.#parts;
    const { policy } = request;
    const negative = request.isNotFound(value);
    const baseTtlMs = negative ? policy.negativeTtlMs : policy.ttlMs;
    // ttl 0 with an swr window: stored stale at once, served while one refresh runs.
    if (this.#closed || (baseTtlMs === 0 && (negative || policy.swrMs === 0))) return Promise.resolve("skipped");
    let payload: string;
    try {
      payload = codec.encode(value);
    } catch (error) {
      if (!(error instanceof UnencodableValueError)) throw error;
      counters.encodeFailures++;
      if (!this.#unencodableReported.has(request.model)) {
        this.#unencodableReported.add(request.model);
        this.#parts.report(new CacheError("E_UNENCODABLE_RESULT", `result of ${request.model} not cached: ${error.message} (reported once per model; stats().encodeFailures counts every such read)`, { cause: error }));
      }
      return Promise.resolve("skipped");
    }
    const now = clock.now();
    const freshUntil = now + jitteredTtl(baseTtlMs, policy.jitter, random);
    const entry: CacheEntry = { payload, freshUntil, staleUntil: freshUntil + (negative ? 0 : policy.swrMs), loadMs, deps };
    this.fillL1(request, codec.cloneEncoded(value), entry, negative);
    if (l2 === undefined) return Promise.resolve("skipped");
    if (exceeds(payload, this.#parts.maxEntryBytes)) {
      this.#oversize(request.model, payload);
      return Promise.resolve("skipped");
    }
    const release = held === undefined ? undefined : { lockKey: held.key, waitedKey: held.waitedKey, token: held.token, landedMessage: this.#parts.landedMessage(request.key) };
    if (held !== undefined) held.stopKeepAlive();
    if (request.hot) for (let replica = 1; replica < this.#parts.replicas; replica++) this.storeReplica(replicaKeyOf(request.key, replica), entry);
    return this.#inFlight.track(versions.storeFenced(request.key, serializeEntry(entry), entry.staleUntil - now, deps, release)).then(
      ({ stored, released }): StoreOutcome => {
        if (!stored) counters.fencedStores++;
        return released ? "released" : "stored";
      },
      (error: unknown): StoreOutcome => {
        this.absorb(error);
        return "skipped";
      },
    );
  }

  /**
   * Fills L1 if it is usable and the recorded versions are still the latest this process knows.
   * Answers whether L1 now holds `value` (then nobody may hand it out uncopied).
   */
  fillL1(request: ReadRequest, value: unknown, entry: CacheEntry, negative: boolean): boolean {
    const { l1, versions } = this.#parts;
    if (l1 === undefined || !(request.policy.useL1 || request.hot) || !this.#parts.l1Trusted()) return false;
    if (!versions.localMatches(entry.deps)) {
      this.#parts.counters.fencedStores++;
      return false;
    }
    l1.set(request.key, { value, copy: this.#parts.codec.copier(value), freshUntil: entry.freshUntil, staleUntil: entry.staleUntil, loadMs: entry.loadMs, negative, deps: entry.deps });
    return true;
  }

  /** A result too large for Redis: counted every time, reported once per model. */
  #oversize(model: string, payload: string): void {
    this.#parts.counters.oversizeEntries++;
    if (this.#oversizeReported.has(model)) return;
    this.#oversizeReported.add(model);
    this.#parts.report(new CacheError("E_ENTRY_TOO_LARGE", `a result of ${model} (${Buffer.byteLength(payload)} bytes encoded) is larger than maxEntrySize (${this.#parts.maxEntryBytes} bytes): served and kept in L1 if it fits, not stored in Redis, where reading and writing it would block the server (reported once per model; stats().oversizeEntries counts every such result)`));
  }

  /** Copies an entry to a replica key, fenced by its recorded versions like any store. */
  storeReplica(replicaKey: string, entry: CacheEntry): void {
    const ttl = entry.staleUntil - this.#parts.clock.now();
    if (ttl <= 0) return;
    this.#inFlight.track(this.#parts.versions.storeFenced(replicaKey, serializeEntry(entry), ttl, entry.deps)).catch((error: unknown) => this.absorb(error));
  }

  /** Counts and reports a Redis failure: it never fails the read. */
  absorb(error: unknown): void {
    // Abandoned by close() (reported there, E_CLOSE_TIMEOUT): it failed because the connections closed, not because Redis did.
    if (this.#closed) return;
    const { counters } = this.#parts;
    if (error instanceof RedisTimeoutError) counters.redisTimeouts++;
    else counters.redisErrors++;
    this.#parts.report(error instanceof CacheError ? error : new CacheStoreError("call", String(error), { cause: error }));
  }
}

/** Whether `payload` takes more than `maxBytes` bytes in UTF-8 (a UTF-16 unit takes at most 3: counted only when that could exceed it). */
function exceeds(payload: string, maxBytes: number): boolean {
  return payload.length * 3 > maxBytes && Buffer.byteLength(payload) > maxBytes;
}

/**
 * Replica `r` of an entry key. The leading `{…}` is a Redis Cluster hash tag: each replica hashes
 * to its own slot, so one shard does not carry every read of a hot key.
 */
export function replicaKeyOf(key: string, replica: number): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return `{r${replica}:${(hash >>> 0).toString(36)}}${key}`;
}
