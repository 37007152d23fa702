import { crc32 } from "node:zlib";
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

const FORMAT = "3";

/**
 * `3|<crc32 of the rest, hex>|freshUntil|staleUntil|loadMs|<deps json>\n<payload>`. The checksum
 * covers times, versions and payload, so a truncated or altered entry is never mistaken for a
 * valid one (it is corrupt: a miss, and deleted).
 */
export function serializeEntry(entry: CacheEntry): string {
  const body = `${entry.freshUntil}|${entry.staleUntil}|${entry.loadMs}|${JSON.stringify(entry.deps)}\n${entry.payload}`;
  return `${FORMAT}|${crc32(body).toString(16)}|${body}`;
}

/** A stored text that is not an entry of this format: why, for the report. */
export class CorruptEntry {
  constructor(readonly reason: string) {}
}

/**
 * Parses a stored entry and checks it whole. Never throws: anything that is not an intact entry
 * of this format (another version's, truncated, altered) comes back as a CorruptEntry.
 */
export function parseEntry(text: string): CacheEntry | CorruptEntry {
  if (typeof text !== "string" || !text.startsWith(`${FORMAT}|`)) return new CorruptEntry("unknown entry format");
  const sumEnd = text.indexOf("|", 2);
  if (sumEnd < 0 || sumEnd > 10) return new CorruptEntry("no checksum");
  const body = text.slice(sumEnd + 1);
  if (crc32(body).toString(16) !== text.slice(2, sumEnd)) return new CorruptEntry("checksum mismatch");
  const a = body.indexOf("|");
  const b = body.indexOf("|", a + 1);
  const c = body.indexOf("|", b + 1);
  const newline = body.indexOf("\n", c + 1);
  if (a < 0 || b < 0 || c < 0 || newline < 0) return new CorruptEntry("truncated header");
  const freshUntil = Number(body.slice(0, a));
  const staleUntil = Number(body.slice(a + 1, b));
  const loadMs = Number(body.slice(b + 1, c));
  if (!Number.isFinite(freshUntil) || !Number.isFinite(staleUntil) || !Number.isFinite(loadMs) || staleUntil < freshUntil) return new CorruptEntry("times out of range");
  const deps = parseDeps(body.slice(c + 1, newline));
  if (deps === undefined) return new CorruptEntry("versions are not a list of [name, version]");
  return { payload: body.slice(newline + 1), freshUntil, staleUntil, loadMs, deps };
}

function parseDeps(json: string): Dep[] | undefined {
  let deps: unknown;
  try {
    deps = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(deps)) return undefined;
  for (const dep of deps) {
    if (!Array.isArray(dep) || dep.length !== 2 || typeof dep[0] !== "string" || !Number.isSafeInteger(dep[1])) return undefined;
  }
  return deps as Dep[];
}

/**
 * Decodes an entry's payload; a payload that does not decode (unknown type tag, bad JSON from
 * another version) is a CorruptEntry, never an exception.
 */
export function decodePayload(codec: { decode(text: string): unknown }, payload: string): { value: unknown } | CorruptEntry {
  try {
    return { value: codec.decode(payload) };
  } catch (error) {
    return new CorruptEntry(`payload does not decode: ${String((error as Error)?.message ?? error)}`);
  }
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
