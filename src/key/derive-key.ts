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
  const clientPart = `${scope.namespace}:${scope.fingerprint}.${scope.client}`;
  if (!key.startsWith(clientPart)) return key;
  const rest = afterReadScope(key, clientPart.length);
  return rest === undefined ? key : `${scope.namespace}:${scope.fingerprint}${rest}`;
}

/**
 * `key` without the part a read's `scope` added (see deriveKey); `prefix` is the key scope's
 * `<namespace>:<fingerprint>` as deriveKey wrote it. Unchanged when it has none.
 */
export function withoutReadScope(prefix: string, key: string): string {
  if (!key.startsWith(prefix)) return key;
  const rest = afterReadScope(key, prefix.length);
  return rest === undefined ? key : prefix + rest;
}

/** What follows the scope part at `from` (`~"<scope>"`, if any): the rest from its `:` on, or undefined if the key has another shape. */
function afterReadScope(key: string, from: number): string | undefined {
  let at = from;
  if (key[at] === "~" && key[at + 1] === '"') {
    at += 2;
    while (at < key.length && key[at] !== '"') at += key[at] === "\\" ? 2 : 1;
    at++;
  }
  return key[at] === ":" ? key.slice(at) : undefined;
}

/**
 * The cache key of one read: `<namespace>:<schema fingerprint>[.<client>][~"<read scope>"]:<model>:<operation>:<args>`.
 * Hashed arguments start with `#`, which no canonical encoding does, so the two forms never meet.
 * A read scope (what a `scope` function answered) is a JSON string, self-delimiting, after a `~`
 * that no fingerprint or client hash contains: it stays readable, and separable (clientFreeKey),
 * however long the arguments.
 */
export function deriveKey(scope: KeyScope, model: string, operation: string, canonicalArgs: string, readScope?: string): string {
  const args = canonicalArgs.length > MAX_INLINE_ARGS ? `#${sha256(canonicalArgs)}` : canonicalArgs;
  const scoped = readScope === undefined ? "" : `~${JSON.stringify(readScope)}`;
  return `${scope.namespace}:${scope.fingerprint}${scoped}:${model}:${operation}:${args}`;
}
