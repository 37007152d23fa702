import type { Dep } from "../invalidation/versions.js";

/** One cached result with the times that govern it (epoch milliseconds) and the versions it was loaded at. */
export interface CacheEntry {
  /** The encoded result. */
  payload: string;
  /** Until when the entry is fresh. */
  freshUntil: number;
  /** Until when the entry may be served stale (equal to freshUntil without stale-while-revalidate). */
  staleUntil: number;
  /** How long the database load took, in milliseconds. */
  loadMs: number;
  /** The version of every name the result depends on, captured before it was loaded. */
  deps: readonly Dep[];
}

const FORMAT = "2";

/** `2|freshUntil|staleUntil|loadMs|<deps json>\n<payload>`: a header parsed without touching the payload. */
export function serializeEntry(entry: CacheEntry): string {
  return `${FORMAT}|${entry.freshUntil}|${entry.staleUntil}|${entry.loadMs}|${JSON.stringify(entry.deps)}\n${entry.payload}`;
}

/** Parses a stored entry; undefined for text in another format (an older version's entry is a miss). */
export function parseEntry(text: string): CacheEntry | undefined {
  const a = text.indexOf("|");
  const b = text.indexOf("|", a + 1);
  const c = text.indexOf("|", b + 1);
  const d = text.indexOf("|", c + 1);
  const newline = text.indexOf("\n", d + 1);
  if (newline < 0 || text.slice(0, a) !== FORMAT) return undefined;
  const freshUntil = Number(text.slice(a + 1, b));
  const staleUntil = Number(text.slice(b + 1, c));
  const loadMs = Number(text.slice(c + 1, d));
  if (!Number.isFinite(freshUntil) || !Number.isFinite(staleUntil) || !Number.isFinite(loadMs)) return undefined;
  let deps: unknown;
  try {
    deps = JSON.parse(text.slice(d + 1, newline));
  } catch {
    return undefined;
  }
  if (!Array.isArray(deps)) return undefined;
  return { payload: text.slice(newline + 1), freshUntil, staleUntil, loadMs, deps: deps as Dep[] };
}

/** Whether an entry was loaded at exactly the versions that are current now. */
export function depsAreCurrent(recorded: readonly Dep[], names: readonly string[], current: readonly number[]): boolean {
  if (recorded.length !== names.length) return false;
  for (let i = 0; i < names.length; i++) {
    const dep = recorded[i]!;
    if (dep[0] !== names[i] || dep[1] !== current[i]) return false;
  }
  return true;
}
