import { CacheConfigError } from "../errors.js";
import { MAX_SCOPE_LENGTH } from "../option-limits.js";
import type { ScopedRead } from "../types.js";

/**
 * Asks the `scope` function about one read. Its own error rejects the read (no tenant in context
 * is the application's to report); an answer that is neither a string of at most
 * MAX_SCOPE_LENGTH characters nor undefined is a CacheConfigError naming `scope`, never a key.
 */
export function readScope(scopeOf: (read: ScopedRead) => string | undefined, model: string, operation: string): string | undefined {
  const scope: unknown = scopeOf({ model, operation });
  if (scope === undefined || (typeof scope === "string" && scope.length <= MAX_SCOPE_LENGTH)) return scope;
  const got = typeof scope === "string" ? `a string of ${scope.length} characters` : typeof scope === "object" ? (scope === null ? "null" : "an object") : `a ${typeof scope}`;
  throw new CacheConfigError("scope", `the scope function returned ${got} for ${model}.${operation}: it must return a string of at most ${MAX_SCOPE_LENGTH} characters, or undefined for a read every scope shares`);
}

/**
 * The part of a read's key its scope contributes. Prefixed with `s`, which neither a `cache`
 * option's variant (`c`) nor a canonical argument encoding (`{`) starts with, and a JSON string
 * is self-delimiting, so `scopeVariant + rest` never equals another read's key.
 */
export function scopeVariant(scope: string): string {
  return `s${JSON.stringify(scope)}`;
}
