import { sha256 } from "./hash.js";

/** Canonical arguments longer than this are replaced by their hash, bounding key length. */
export const MAX_INLINE_ARGS = 160;

export interface KeyScope {
  namespace: string;
  fingerprint: string;
}

/**
 * The cache key of one read: `<namespace>:<schema fingerprint>:<model>:<operation>:<args>`.
 * Hashed arguments start with `#`, which no canonical encoding does, so the two forms never meet.
 */
export function deriveKey(scope: KeyScope, model: string, operation: string, canonicalArgs: string): string {
  const args = canonicalArgs.length > MAX_INLINE_ARGS ? `#${sha256(canonicalArgs)}` : canonicalArgs;
  return `${scope.namespace}:${scope.fingerprint}:${model}:${operation}:${args}`;
}
