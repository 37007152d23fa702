import { performance } from "node:perf_hooks";
import { LRUCache } from "lru-cache";
import type { Copier } from "../codec/clone-plan.js";
import type { Dep } from "../invalidation/versions.js";
import type { Clock } from "../types.js";
import { retainedSize, stringSize } from "./retained-size.js";

/** The entry object, the LRU's slots and map entry for it. */
const ENTRY_OVERHEAD = 256;
/** One recorded version: a two-element array. */
const DEP = 48;

/** What one L1 entry keeps alive on the heap, estimated once when it is stored. */
function entrySize(key: string, entry: Omit<MemoryEntry, "evictAt" | "keepUntil" | "size">): number {
  let size = ENTRY_OVERHEAD + stringSize(key) + retainedSize(entry.value) + 32;
  for (const [name] of entry.deps) size += DEP + stringSize(name);
  return size;
}

/** An L1 entry: the decoded value, ready to be cloned out, and when it stops being servable. */
export interface MemoryEntry {
  value: unknown;
  /** Copies `value` for a caller (generic at first, then by a plan of its structure: see entryCopier). */
  copy: Copier;
  freshUntil: number;
  staleUntil: number;
  /** Until when L1 may serve it, never later than staleUntil nor than the L1 TTL bound. */
  evictAt: number;
  /**
   * The L1 TTL bound again, on the monotonic clock (checked with the lease, in the same clock
   * read): a wall clock stepped back kept entries in L1 for as long as its step (outside probe 234).
   */
  keepUntil: number;
  negative: boolean;
  /** How long the database load took, for early refresh. */
  loadMs: number;
  /** The versions the value was loaded at; L1 serves it only while they are current. */
  deps: readonly Dep[];
  /** Heap bytes accounted for this entry: the decoded value, key, versions and bookkeeping (see retained-size.ts). */
  size: number;
}

export interface MemoryStoreLimits {
  maxEntries: number;
  maxBytes: number;
  maxTtlMs: number;
}

/**
 * The in-process L1, bounded by entry count and by bytes. Expiry is checked against the
 * injected clock on read, so no timers run and tests advance time instead of sleeping.
 */
export class MemoryStore {
  readonly #lru: LRUCache<string, MemoryEntry>;
  readonly #clock: Clock;
  readonly #maxTtlMs: number;

  constructor(limits: MemoryStoreLimits, clock: Clock) {
    this.#clock = clock;
    this.#maxTtlMs = limits.maxTtlMs;
    this.#lru = new LRUCache<string, MemoryEntry>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      sizeCalculation: (entry) => entry.size,
    });
  }

  /** The entry if L1 may still serve it; expired entries are dropped on the way. */
  get(key: string, now = this.#clock.now()): MemoryEntry | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined) return undefined;
    if (entry.evictAt <= now) {
      this.#lru.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, entry: Omit<MemoryEntry, "evictAt" | "keepUntil" | "size">): void {
    const evictAt = Math.min(entry.staleUntil, this.#clock.now() + this.#maxTtlMs);
    this.#lru.set(key, { ...entry, evictAt, keepUntil: performance.now() + this.#maxTtlMs, size: entrySize(key, entry) });
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }
}
