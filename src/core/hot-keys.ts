import type { Clock } from "../types.js";

export interface HotKeyOptions {
  /** Estimated reads of one key within a window that make it hot. */
  threshold: number;
  /** Length of the decaying window in milliseconds: every window, all counts halve. */
  windowMs: number;
  /** Count about one read in this many (amortizes hashing on the hot path). */
  sampleEvery: number;
  /** How many of the hottest keys are tracked and reported. */
  topK: number;
}

const WIDTH = 4096;
const DEPTH = 4;

/**
 * Finds hot keys cheaply: a sampled count-min sketch (Cormode & Muthukrishnan) whose counts halve
 * every window, plus the top-K keys by estimate. Between samples a read costs one counter
 * decrement and one Set lookup.
 */
export class HotKeyDetector {
  readonly #options: HotKeyOptions;
  readonly #clock: Clock;
  readonly #sketch = new Uint32Array(WIDTH * DEPTH);
  readonly #top = new Map<string, number>();
  readonly #hot = new Set<string>();
  readonly #random: () => number;
  /** Reads left until the next one counted. */
  #untilSample: number;
  #windowEnds: number;

  constructor(options: HotKeyOptions, clock: Clock, random: () => number = Math.random) {
    this.#options = options;
    this.#clock = clock;
    this.#random = random;
    this.#untilSample = this.#nextGap();
    this.#windowEnds = clock.now() + options.windowMs;
  }

  /** Counts a read of `key` (sampled) and tells whether the key is hot now. */
  touch(key: string): boolean {
    if (--this.#untilSample === 0) {
      this.#untilSample = this.#nextGap();
      this.#count(key);
    }
    return this.#hot.has(key);
  }

  /**
   * Reads until the next sample: uniform over 1 … 2 × sampleEvery − 1 (sampleEvery on average).
   * Not a fixed period: traffic cycling through keys in step with it would have the same key
   * counted every time (two keys read alternately: one counted twice, the other never, outside probe 106).
   */
  #nextGap(): number {
    const every = this.#options.sampleEvery;
    const gap = 1 + Math.floor(this.#random() * (2 * every - 1));
    // A `random` option outside [0, 1) (NaN, 1) would stop or skew the sampling: the mean then.
    return gap >= 1 && gap < 2 * every ? gap : every;
  }

  isHot(key: string): boolean {
    return this.#hot.has(key);
  }

  /** The tracked keys (candidates included) with their estimated reads in the current window, hottest first. */
  top(): Array<{ key: string; estimate: number }> {
    return [...this.#top].sort((a, b) => b[1] - a[1]).map(([key, estimate]) => ({ key, estimate }));
  }

  /** Only the keys that are hot now (estimate ≥ threshold), hottest first. */
  hot(): Array<{ key: string; estimate: number }> {
    return this.top().filter(({ key }) => this.#hot.has(key));
  }

  #count(key: string): void {
    const now = this.#clock.now();
    // A wall clock stepped back (NTP, a restored VM) leaves the window's end far ahead: decayed too,
    // or nothing would cool for as long as the step (outside probe 155: a key read at 30 % of the
    // threshold turned hot, for good, after a 10-minute step back).
    if (now >= this.#windowEnds || now < this.#windowEnds - this.#options.windowMs) this.#decay(now);
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    let estimate = Number.MAX_SAFE_INTEGER;
    for (let row = 0; row < DEPTH; row++) {
      const index = row * WIDTH + (((h1 + row * h2) >>> 0) % WIDTH);
      const count = ++this.#sketch[index]!;
      if (count < estimate) estimate = count;
    }
    this.#offerTop(key, estimate * this.#options.sampleEvery);
  }

  #offerTop(key: string, estimate: number): void {
    if (!this.#top.has(key) && this.#top.size >= this.#options.topK) {
      let coldest: string | undefined;
      let coldestEstimate = Infinity;
      for (const [candidate, value] of this.#top) {
        if (value < coldestEstimate) [coldest, coldestEstimate] = [candidate, value];
      }
      if (estimate <= coldestEstimate) return;
      this.#top.delete(coldest!);
      this.#hot.delete(coldest!);
    }
    this.#top.set(key, estimate);
    if (estimate >= this.#options.threshold) this.#hot.add(key);
  }

  /** Halves every count (as many times as windows passed), so yesterday's hot keys cool down. */
  #decay(now: number): void {
    // After a step back, one window is taken as passed, and the next ends one window from now.
    const windows = now < this.#windowEnds ? 1 : Math.floor((now - this.#windowEnds) / this.#options.windowMs) + 1;
    this.#windowEnds = now < this.#windowEnds ? now + this.#options.windowMs : this.#windowEnds + windows * this.#options.windowMs;
    const shift = Math.min(31, windows);
    for (let i = 0; i < this.#sketch.length; i++) this.#sketch[i] = this.#sketch[i]! >>> shift;
    for (const [key, estimate] of this.#top) {
      const cooled = Math.floor(estimate / 2 ** shift);
      if (cooled === 0) this.#top.delete(key);
      else this.#top.set(key, cooled);
      if (cooled < this.#options.threshold) this.#hot.delete(key);
    }
  }
}
