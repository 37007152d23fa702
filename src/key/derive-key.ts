import { sha256 } from "./hash.js";

/** Canonical arguments longer than this are replaced by their hash, bounding key length. */
export const MAX_INLINE_ARGS = 160;

export interface KeyScope {
  namespace: string;
  /** The schema fingerprint (fixed length, base64url). */
  fingerprint: string;
  /**
   * What else about the client changes its results: its global `omit` and which database (and
   * schema, and user) it reads. Hashed, so no connection detail shows in keys.
   */
  client?: string;
  /** Which rows the client reads (its database, hashed): Bloom filters are shared per database. */
  database?: string;
}

/** The scope keys are derived in: `<fingerprint>.<client>` in the fingerprint's place, computed once. */
export function keyScope(scope: KeyScope): KeyScope {
  return scope.client === undefined ? scope : { namespace: scope.namespace, fingerprint: `${scope.fingerprint}.${scope.client}` };
}

/**
 * The cache key of one read: `<namespace>:<schema fingerprint>[.<client>]:<model>:<operation>:<args>`.
 * Hashed arguments start with `#`, which no canonical encoding does, so the two forms never meet.
 */
export function deriveKey(scope: KeyScope, model: string, operation: string, canonicalArgs: string): string {
  const args = canonicalArgs.length > MAX_INLINE_ARGS ? `#${sha256(canonicalArgs)}` : canonicalArgs;
  return `${scope.namespace}:${scope.fingerprint}:${model}:${operation}:${args}`;
}
