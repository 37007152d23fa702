import { isThenable } from "../core/thenable.js";
import { CacheConfigError } from "../errors.js";
import { MAX_SCOPE_LENGTH } from "../option-limits.js";
import type { ScopedRead } from "../types.js";

/**
 * Asks the `scope` function about one read. Its own error rejects the read (no tenant in context
 * is the application's to report). A number or a bigint (a numeric tenant id) stands for its
 * decimal spelling; any other answer that is not a string of at most MAX_SCOPE_LENGTH characters
 * or undefined is a CacheConfigError naming `scope`, never a key.
 */
export function readScope(scopeOf: (read: ScopedRead) => unknown, read: ScopedRead): string | undefined {
  const scope: unknown = scopeOf(read);
  // Refused below; its rejection is this refusal's, not an unhandled one that crashes the process (outside probe 283).
  if (isThenable(scope)) {
    try {
      scope.then(undefined, () => {});
    } catch {
      // A thenable whose then() throws or misbehaves: refused below all the same.
    }
  }
  if (scope === undefined || (typeof scope === "string" && scope.length <= MAX_SCOPE_LENGTH)) return scope;
  if ((typeof scope === "number" && Number.isFinite(scope)) || typeof scope === "bigint") {
    const spelled = String(scope);
    if (spelled.length <= MAX_SCOPE_LENGTH) return spelled;
  }
  throw new CacheConfigError("scope", `the scope function returned ${described(scope)} for ${read.model}.${read.operation}: it must return a string of at most ${MAX_SCOPE_LENGTH} characters (or a number), or undefined for a read every scope shares`);
}

function described(scope: unknown): string {
  if (typeof scope === "string") return `a string of ${scope.length} characters`;
  if (scope === null) return "null";
  if (isThenable(scope)) return "a Promise (it must answer at once: it is asked on every cached read)";
  if (typeof scope === "number" && !Number.isFinite(scope)) return String(scope);
  if (typeof scope === "number" || typeof scope === "bigint") return `${typeof scope === "bigint" ? "a bigint" : "a number"} of ${String(scope).length} characters`;
  return typeof scope === "object" ? "an object" : `a ${typeof scope}`;
}
