import { CacheArgumentError } from "../errors.js";
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

/** Validates a per-query `cache` option; throws CacheArgumentError naming the field at fault. */
export function validateCacheOption(value: unknown): CacheQueryOptions | undefined {
  if (value === undefined || value === false) return value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CacheArgumentError("cache", "expected false or an object { ttl?, swr?, tags? }");
  }
  for (const [key, member] of Object.entries(value)) {
    if (!OPTION_KEYS.has(key)) throw new CacheArgumentError(`cache.${key}`, `unknown option (expected one of: ${[...OPTION_KEYS].join(", ")})`);
    if (member === undefined) continue;
    if (key === "tags") {
      if (!Array.isArray(member) || !member.every((tag) => typeof tag === "string" && tag !== "")) {
        throw new CacheArgumentError("cache.tags", "expected an array of non-empty strings");
      }
      continue;
    }
    // ttl 0 is allowed with an swr window: always served stale while one refresh runs.
    const swr = (value as { swr?: unknown }).swr;
    const positive = key === "ttl" && !(typeof swr === "number" && swr > 0);
    if (typeof member !== "number" || !Number.isFinite(member) || member < 0 || (positive && member === 0)) {
      throw new CacheArgumentError(`cache.${key}`, `expected a ${positive ? "positive" : "non-negative"} number of seconds`);
    }
  }
  return value as CacheQueryOptions;
}
