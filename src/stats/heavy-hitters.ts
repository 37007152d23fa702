/** A key the structure tracks: its count since the last drain, and what the caller attached to it. */
export interface TrackedKey<T> {
  key: string;
  count: number;
  item: T;
}

/** What the structure did: for statistics, and for tests that bound its work. */
export interface HeavyHitterCounts {
  /** Reads counted. */
  reads: number;
  /** Sweeps run (each frees at least half the capacity). */
  sweeps: number;
  /** Entries examined by sweeps, in total: their amortized cost is `swept / reads`. */
  swept: number;
}

/**
 * Counts every read of every key in bounded memory: Misra–Gries "frequent items" (Misra & Gries
 * 1982; with a median decrement as in Karp, Shenker & Papadimitriou 2003). A read of a tracked
 * key is one Map lookup and one increment; an untracked key takes a free slot. When none is free,
 * a sweep subtracts the median count from every entry and forgets those at zero, freeing at least
 * half the slots, so sweeps cost O(1) amortized per read. Any key read more than
 * `2 · reads / capacity` times since the last drain is tracked, with a count short by at most that.
 */
export class HeavyHitters<T, Source = T> {
  readonly capacity: number;
  readonly counts: HeavyHitterCounts = { reads: 0, sweeps: 0, swept: 0 };
  readonly #entries = new Map<string, TrackedKey<T>>();
  /** What is kept of a key's first read: only what is needed later, not everything the read holds. */
  readonly #keep: (source: Source) => T;
  /** Scratch space for the sweep's median, allocated once. */
  readonly #scratch: Float64Array;

  constructor(capacity: number, keep: (source: Source) => T = (source) => source as unknown as T) {
    if (!Number.isSafeInteger(capacity) || capacity < 2) throw new RangeError(`capacity must be an integer ≥ 2, got ${capacity}`);
    this.capacity = capacity;
    this.#keep = keep;
    this.#scratch = new Float64Array(capacity);
  }

  /** Counts one read of `key`; what `keep` takes of the first read seen stays with the key while it is tracked. */
  add(key: string, source: Source): void {
    this.counts.reads++;
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.count++;
      return;
    }
    if (this.#entries.size >= this.capacity) this.#sweep();
    this.#entries.set(key, { key, count: 1, item: this.#keep(source) });
  }

  /** Takes back the count of one read of `key` (it stays counted in `reads`): a read that turned out not to be worth recording. */
  discount(key: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.count > 0) entry.count--;
  }

  /** What is kept of `key`, while it is tracked. */
  itemOf(key: string): T | undefined {
    return this.#entries.get(key)?.item;
  }

  /** Keys tracked now (at most `capacity`). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The `limit` most-read keys since the last drain (count > 0), most read first, and a new
   * counting period: every count goes back to zero. Entries stay (a later read is cheap) until a
   * sweep needs their slots.
   */
  drain(limit: number): Array<TrackedKey<T>> {
    const counted: Array<TrackedKey<T>> = [];
    for (const entry of this.#entries.values()) {
      if (entry.count > 0) counted.push({ ...entry });
      entry.count = 0;
    }
    return counted.sort((a, b) => b.count - a.count).slice(0, limit);
  }

  /** Subtracts the median count from every entry and forgets those left at zero or below. */
  #sweep(): void {
    const counts = this.#scratch;
    let n = 0;
    for (const entry of this.#entries.values()) counts[n++] = entry.count;
    const median = select(counts, n, n >> 1);
    for (const [key, entry] of this.#entries) {
      entry.count -= median;
      if (entry.count <= 0) this.#entries.delete(key);
    }
    this.counts.sweeps++;
    this.counts.swept += n;
  }
}

/** The k-th smallest of values[0..n) (Hoare's quickselect, O(n) on average; reorders values). */
function select(values: Float64Array, n: number, k: number): number {
  let left = 0;
  let right = n - 1;
  while (left < right) {
    const pivot = values[(left + right) >> 1]!;
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const swap = values[i]!;
        values[i++] = values[j]!;
        values[j--] = swap;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return values[k]!;
  }
  return values[k]!;
}
