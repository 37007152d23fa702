/** A shared Bloom filter's metadata, as BLOOM_LOAD reads it from Redis. */
export interface BloomMeta {
  m: number;
  k: number;
  /** The `b:` version it was built at. */
  built: number;
  /** When it was built (epoch ms, on Redis's clock: see BLOOM_FINISH). */
  at: number;
}

/** Bit positions are computed with 32-bit signed shifts: a filter has at most 2^31 bits. */
const MAX_BITS = 2 ** 31;
const MAX_HASHES = 64;

/**
 * Checks what Redis holds for a filter before it guards a single read: a filter whose metadata
 * is out of range or whose bits are shorter than it claims would answer "absent" for records
 * that exist. Undefined when there is no filter; a string (the reason) when it is corrupt.
 */
export function parseBloomMeta(fields: readonly string[], bitsLength: number): BloomMeta | string | undefined {
  const [mText = "", kText = "", builtText = "", atText = ""] = fields;
  if (mText === "") return undefined;
  const [m, k, built, at] = [mText, kText, builtText, atText].map((text) => (/^[0-9]{1,16}$/.test(text) ? Number(text) : Number.NaN)) as [number, number, number, number];
  if (!(m >= 64 && m <= MAX_BITS)) return `bit count ${JSON.stringify(mText)} out of range`;
  if (!(k >= 1 && k <= MAX_HASHES)) return `hash count ${JSON.stringify(kText)} out of range`;
  if (!Number.isSafeInteger(built) || !Number.isSafeInteger(at)) return "build version or time out of range";
  if (bitsLength === 0) return "its bits are missing (evicted, or deleted)";
  if (bitsLength < Math.ceil(m / 8)) return `${bitsLength} bytes of bits for ${m} bits`;
  return { m, k, built, at };
}
