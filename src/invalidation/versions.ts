import { LRUCache } from "lru-cache";
import { randomUUID } from "node:crypto";
import { CacheError, CacheStoreError } from "../errors.js";
import type { Counters } from "../stats/counters.js";
import { BUMP_VERSIONS, FENCED_SET } from "../stores/redis-scripts.js";
import type { RedisStore } from "../stores/redis-store.js";
import type { Bus } from "./bus.js";

/** A version name and the value a cached entry recorded for it. */
export type Dep = readonly [name: string, version: number];

export interface VersionsOptions {
  /** The Redis side, or undefined for an in-process cache. */
  redis: { store: RedisStore; bus: Bus; prefix: string } | undefined;
  counters: Counters;
  report: (error: CacheError) => void;
  /** How long identity tags live in Redis: longer than any entry that can record them. */
  tagTtlMs: number;
  ackTimeoutMs: number;
  maxLocalNames: number;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;

/**
 * The version of every name the cache has seen. Redis holds the truth and a global sequence
 * (values never repeat, even after a tag expires); this process keeps the latest values it
 * knows, so L1 can validate an entry without a round trip. Without Redis the local map is the
 * truth, and a name evicted from it is read as the highest value ever evicted (never stale).
 */
export class Versions {
  readonly #options: VersionsOptions;
  readonly #local: LRUCache<string, number>;
  readonly #pending = new Set<string>();
  #evictedFloor = 0;
  #localSeq = 0;
  #retryDelay = RETRY_MIN_MS;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(options: VersionsOptions) {
    this.#options = options;
    this.#local = new LRUCache<string, number>({
      max: options.maxLocalNames,
      dispose: (value, _name, reason) => {
        if (reason === "evict") this.#evictedFloor = Math.max(this.#evictedFloor, value);
      },
    });
  }

  /** Whether every recorded version is the one this process knows to be current. */
  localMatches(deps: readonly Dep[]): boolean {
    for (const [name, version] of deps) {
      if (this.#current(name) !== version) return false;
    }
    return true;
  }

  /** Names with an invalidation that Redis has not accepted yet: nothing about them may be cached. */
  hasPending(names: readonly string[]): boolean {
    if (this.#pending.size === 0) return false;
    return names.some((name) => this.#pending.has(name));
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** The current versions of `names`, from Redis (absent names are 0) or from this process. */
  async fetch(names: readonly string[]): Promise<number[]> {
    const redis = this.#options.redis;
    if (redis === undefined) return names.map((name) => this.#current(name)!);
    const values = await redis.store.mget(names.map((name) => this.keyOf(name)));
    return names.map((name, i) => {
      const version = Number(values[i] ?? 0);
      this.observe(name, version);
      return version;
    });
  }

  /** Learns a version from Redis or the bus; versions only move forward. */
  observe(name: string, version: number): void {
    if (this.#pending.has(name)) return;
    const known = this.#local.get(name);
    if (known === undefined || known < version) this.#local.set(name, version);
  }

  /** Forgets everything learnt from Redis: after missed messages, nothing local can be trusted. */
  forget(): void {
    if (this.#options.redis !== undefined) this.#local.clear();
  }

  /**
   * Bumps `names` everywhere and resolves once every live instance has applied it (or the ack
   * wait timed out). If Redis cannot take it, the bump is kept and retried; until then these
   * names are pending and reads that depend on them bypass the cache.
   */
  async bump(names: ReadonlySet<string> | readonly string[]): Promise<void> {
    const list = [...names];
    if (list.length === 0) return;
    const redis = this.#options.redis;
    if (redis === undefined) {
      const seq = ++this.#localSeq + this.#evictedFloor;
      for (const name of list) this.#local.set(name, seq);
      this.#options.counters.invalidationsSent++;
      return;
    }
    if (!(await this.#send(list))) this.#queue(list);
  }

  /** Stores an entry only if the versions captured before loading are still current (Lua). */
  async storeFenced(key: string, value: string, ttlMs: number, deps: readonly Dep[]): Promise<boolean> {
    const redis = this.#options.redis!;
    if (redis.store.isCluster) {
      // Cluster: version keys and entries live in different slots, so no atomic check; the entry
      // still records its versions, and a read never serves one whose versions moved on.
      await redis.store.set(key, value, ttlMs);
      return true;
    }
    const keys = [key, ...deps.map(([name]) => this.keyOf(name))];
    const args = [value, Math.max(1, Math.round(ttlMs)), ...deps.map(([, version]) => String(version))];
    return (await redis.store.run(FENCED_SET, keys, args)) === 1;
  }

  keyOf(name: string): string {
    return `${this.#options.redis!.prefix}:v:${name}`;
  }

  /** Tries once more to deliver queued invalidations; used by close(). */
  async flush(): Promise<boolean> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#pending.size === 0) return true;
    const list = [...this.#pending];
    if (!(await this.#send(list))) return false;
    for (const name of list) this.#pending.delete(name);
    return true;
  }

  /** In Redis mode an unknown name is unknown; in process, it is at most the evicted floor. */
  #current(name: string): number | undefined {
    const known = this.#local.get(name);
    return known === undefined && this.#options.redis === undefined ? this.#evictedFloor : known;
  }

  async #send(list: readonly string[]): Promise<boolean> {
    const { store, bus, prefix } = this.#options.redis!;
    const counters = this.#options.counters;
    const messageId = randomUUID();
    const acks = bus.expectAcks(messageId);
    const { prefix: messagePrefix, suffix } = bus.invalidationMessage(messageId, list);
    let reply: unknown;
    try {
      const keys = [`${prefix}:seq`, ...list.map((name) => this.keyOf(name))];
      const expiring = list.map((name) => (name.startsWith("t:") ? "1" : "0"));
      reply = await store.run(BUMP_VERSIONS, keys, [bus.eventsChannel, messagePrefix, suffix, this.#options.tagTtlMs, ...expiring]);
    } catch (error) {
      acks.cancel();
      this.#options.report(error instanceof CacheError ? error : new CacheStoreError("EVALSHA", String(error)));
      return false;
    }
    const [seq, receivers] = reply as [number, number];
    for (const name of list) {
      this.#pending.delete(name);
      this.observe(name, seq);
    }
    counters.invalidationsSent++;
    if (!(await acks.wait(receivers, this.#options.ackTimeoutMs))) counters.invalidationAckTimeouts++;
    return true;
  }

  #queue(list: readonly string[]): void {
    for (const name of list) {
      this.#pending.add(name);
      // This process must stop trusting what it knows of the name at once.
      this.#local.delete(name);
    }
    this.#options.counters.invalidationsQueued++;
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.flush().then((delivered) => {
        this.#retryDelay = delivered ? RETRY_MIN_MS : Math.min(RETRY_MAX_MS, this.#retryDelay * 2);
        if (!delivered) this.#scheduleRetry();
      });
    }, this.#retryDelay);
    this.#retryTimer.unref();
  }
}
