/** One cached result with the times that govern it (epoch milliseconds). */
export interface CacheEntry {
  /** The encoded result, as stored in Redis. */
  payload: string;
  /** Until when the entry is fresh. */
  freshUntil: number;
  /** Until when the entry may be served stale (equal to freshUntil without stale-while-revalidate). */
  staleUntil: number;
  /** How long the database load took, in milliseconds. */
  loadMs: number;
}

const FORMAT = "1";

/** `1|freshUntil|staleUntil|loadMs|payload`: a header Redis readers parse without touching the payload. */
export function serializeEntry(entry: CacheEntry): string {
  return `${FORMAT}|${entry.freshUntil}|${entry.staleUntil}|${entry.loadMs}|${entry.payload}`;
}

/** Parses a stored entry; undefined for text in another format (a future version's entry is a miss). */
export function parseEntry(text: string): CacheEntry | undefined {
  const a = text.indexOf("|");
  const b = text.indexOf("|", a + 1);
  const c = text.indexOf("|", b + 1);
  const d = text.indexOf("|", c + 1);
  if (d < 0 || text.slice(0, a) !== FORMAT) return undefined;
  const freshUntil = Number(text.slice(a + 1, b));
  const staleUntil = Number(text.slice(b + 1, c));
  const loadMs = Number(text.slice(c + 1, d));
  if (!Number.isFinite(freshUntil) || !Number.isFinite(staleUntil) || !Number.isFinite(loadMs)) return undefined;
  return { payload: text.slice(d + 1), freshUntil, staleUntil, loadMs };
}
