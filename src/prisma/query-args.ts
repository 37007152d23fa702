import { types } from "node:util";
import { CacheArgumentError, shownValue } from "../errors.js";
import type { CacheQueryOptions } from "../types.js";

const OPTION_KEYS = new Set(["ttl", "swr", "tags"]);

/** Splits the `cache` option off Prisma's arguments, which must never see it. */
export function splitCacheOption(args: Record<string, unknown> | undefined): {
  args: Record<string, unknown> | undefined;
  cache: CacheQueryOptions | undefined;
} {
  if (args === undefined || args === null) return { args, cache: undefined };
  if (!("cache" in args)) return { args, cache: undefined };
  const { cache, ...rest } = args;
  // The spread keeps own members; Prisma also reads an inherited select or include (a class's getter).
  for (const key of ["select", "include"] as const) if (!(key in rest) && args[key] !== undefined) rest[key] = args[key];
  return { args: rest, cache: validateCacheOption(cache) };
}

/**
 * Objects that hold no options as fields: a `Map` of them, or a boxed `Number`, is read as `{}` by
 * property access. Told by what they are, not by `instanceof`: one from another realm (a `vm`
 * context, an iframe) has other constructors (outside probe 149: a vm's `Map` passed as options).
 */
const NOT_OPTIONS = [types.isMap, types.isSet, types.isWeakMap, types.isWeakSet, types.isDate, types.isRegExp, types.isPromise, types.isNativeError, types.isAnyArrayBuffer, types.isBoxedPrimitive, ArrayBuffer.isView];

/**
 * Validates a per-query `cache` option; throws CacheArgumentError naming the field at fault. Each
 * option is read once, as the cache then uses it — by property access, so a class's getter, an
 * inherited field and a non-enumerable one are checked too (outside probe 123: only the fields
 * `Object.entries` lists were) — and a plain copy of what was read is returned: a getter cannot
 * answer the check one value and the read another.
 */
export function validateCacheOption(value: unknown): CacheQueryOptions | undefined {
  if (value === undefined || value === false) return value;
  if (!isOptionsObject(value)) {
    throw new CacheArgumentError("cache", `expected false or an object { ttl?, swr?, tags? }, got ${shownValue(value)}`);
  }
  // for-in: enumerable fields, inherited ones too (a DTO's prototype chain).
  for (const key in value) {
    if (!OPTION_KEYS.has(key)) throw new CacheArgumentError(`cache.${key}`, `unknown option (expected one of: ${[...OPTION_KEYS].join(", ")})`);
  }
  const { ttl, swr, tags } = value as { ttl?: unknown; swr?: unknown; tags?: unknown };
  const options: { ttl?: number; swr?: number; tags?: string[] } = {};
  if (swr !== undefined) options.swr = seconds("swr", swr, false);
  // ttl 0 is allowed with an swr window: always served stale while one refresh runs.
  if (ttl !== undefined) options.ttl = seconds("ttl", ttl, !(options.swr !== undefined && options.swr > 0));
  if (tags !== undefined) {
    if (!Array.isArray(tags)) throw new CacheArgumentError("cache.tags", `expected an array of non-empty strings, got ${shownValue(tags)}`);
    const copied = [...(tags as unknown[])];
    const bad = copied.findIndex((tag) => typeof tag !== "string" || tag === "");
    if (bad !== -1) throw new CacheArgumentError(`cache.tags[${bad}]`, `expected a non-empty string, got ${copied[bad] === "" ? "an empty string" : shownValue(copied[bad])}`);
    options.tags = copied as string[];
  }
  return options;
}

/** A literal `{ … }` (or a null-prototype object): the usual spelling, which needs no further look. */
/** An object that can hold options as fields: not an array, nor one of the NOT_OPTIONS kinds (unless plain). */
export function isOptionsObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value) && (isPlainObject(value) || !isNotOptions(value));
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isNotOptions(value: object): boolean {
  return value instanceof Error || NOT_OPTIONS.some((isKind) => isKind(value));
}

function seconds(key: "ttl" | "swr", member: unknown, positive: boolean): number {
  if (typeof member !== "number" || !Number.isFinite(member) || member < 0 || (positive && member === 0)) {
    throw new CacheArgumentError(`cache.${key}`, `expected a ${positive ? "positive" : "non-negative"} number of seconds, got ${shownValue(member)}`);
  }
  return member;
}
