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
 * A read's key without the client part of its scope: one query, whatever the client options or
 * the database of the client that read it (query statistics count it once; each instance replays
 * it on its own client). `scope` is the unscoped one, as given to keyScope().
 */
export function clientFreeKey(scope: KeyScope, key: string): string {
  if (scope.client === undefined) return key;
  const scoped = `${scope.namespace}:${scope.fingerprint}.${scope.client}:`;
  return key.startsWith(scoped) ? `${scope.namespace}:${scope.fingerprint}:${key.slice(scoped.length)}` : key;
}

/**
 * The cache key of one read: `<namespace>:<schema fingerprint>[.<client>]:<model>:<operation>:<args>`.
 * Hashed arguments start with `#`, which no canonical encoding does, so the two forms never meet.
 */
export function deriveKey(scope: KeyScope, model: string, operation: string, canonicalArgs: string): string {
  const args = canonicalArgs.length > MAX_INLINE_ARGS ? `#${sha256(canonicalArgs)}` : canonicalArgs;
  return `${scope.namespace}:${scope.fingerprint}:${model}:${operation}:${args}`;
}
