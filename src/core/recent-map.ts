/**
 * A Map that keeps the `max` keys set most recently and hands each key it evicts to `onEvict`.
 *
 * Why not lru-cache: it sizes its arrays by `max` when it is built, and the versions a cache
 * instance knows are bounded at 100 000 names, so every `$extends` paid ≈ 15 ms and 1.5 MB
 * before its first read (an outside probe: 100 caches without Redis held 182 MB), while most
 * instances learn a few thousand names. This allocates as it grows. Reads do not refresh a key's
 * place: what an eviction costs here is one Redis read (or, in process, one load) again.
 *
 * A full map evicts a sixteenth of its keys at once, not one per `set`: a Map iterated from its
 * start steps over the slots its deletions left until it compacts, so evicting the oldest key
 * on every `set` cost 44–64 µs each at 100 000 keys (an outside probe: invalidating 25 000 tags
 * took 1 s instead of 30 ms). In batches each `set` pays about one slot.
 */
export class RecentMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #max: number;
  /** How many keys a full map keeps after evicting. */
  readonly #keepAfterEviction: number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;

  constructor(max: number, onEvict?: (key: K, value: V) => void) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`RecentMap: max must be a positive integer, not ${max}`);
    this.#max = max;
    this.#keepAfterEviction = max - Math.floor(max / 16);
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  /** Sets `key` as the most recent one; past `max` keys, evicts the least recently set ones. */
  set(key: K, value: V): void {
    // Deleted first so that the key moves to the end of the Map's insertion order.
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#max) this.#evict(this.#entries.size - this.#keepAfterEviction);
  }

  #evict(count: number): void {
    for (const [key, value] of this.#entries) {
      if (count-- <= 0) return;
      this.#entries.delete(key);
      this.#onEvict?.(key, value);
    }
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
