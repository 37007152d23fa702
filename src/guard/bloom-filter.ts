import { createHash } from "node:crypto";

/**
 * A Bloom filter whose bit layout is Redis's: bit `i` is bit `7 - i % 8` of byte `i / 8`, as
 * SETBIT/GETBIT see it, and positions are `(h1 + i·h2) mod m` with h1, h2 the first two 32-bit
 * words of SHA-1 — what the Lua scripts compute with `redis.sha1hex`. So a filter built here,
 * stored in Redis and extended there by writers on other instances stays one filter.
 */
export class BloomFilter {
  constructor(
    /** Number of bits. */
    readonly m: number,
    /** Number of hash positions per item. */
    readonly k: number,
    readonly bits: Uint8Array = new Uint8Array(Math.ceil(m / 8)),
  ) {}

  /** Sized for `expectedItems` at `errorRate` false positives: m = −n·ln p / ln²2, k = m/n · ln 2. */
  static sized(expectedItems: number, errorRate: number): BloomFilter {
    const n = Math.max(1, expectedItems);
    const m = Math.max(64, Math.ceil((-n * Math.log(errorRate)) / Math.LN2 ** 2));
    const k = Math.max(1, Math.round((m / n) * Math.LN2));
    return new BloomFilter(m, k);
  }

  add(item: string): void {
    for (const position of this.positions(item)) this.bits[position >> 3]! |= 0x80 >> (position & 7);
  }

  has(item: string): boolean {
    for (const position of this.positions(item)) {
      if ((this.bits[position >> 3]! & (0x80 >> (position & 7))) === 0) return false;
    }
    return true;
  }

  positions(item: string): number[] {
    const hex = createHash("sha1").update(item).digest("hex");
    const h1 = Number.parseInt(hex.slice(0, 8), 16);
    const h2 = Number.parseInt(hex.slice(8, 16), 16);
    const positions = new Array<number>(this.k);
    for (let i = 0; i < this.k; i++) positions[i] = (h1 + i * h2) % this.m;
    return positions;
  }

  /**
   * The false-positive rate its bits give now: (share of bits set)^k. Counting the bits costs one
   * pass over them (≈ 50 µs for a filter of 50 KB): call it now and then, not per read.
   */
  currentErrorRate(): number {
    let set = 0;
    for (const byte of this.bits) set += BITS_SET[byte]!;
    return (set / this.m) ** this.k;
  }

  /** The expected false-positive rate with `items` distinct items added. */
  falsePositiveRate(items: number): number {
    return (1 - Math.exp((-this.k * items) / this.m)) ** this.k;
  }
}

/** Bits set in each byte value. */
const BITS_SET = Uint8Array.from({ length: 256 }, (_, byte) => {
  let count = 0;
  for (let rest = byte; rest !== 0; rest >>= 1) count += rest & 1;
  return count;
});
