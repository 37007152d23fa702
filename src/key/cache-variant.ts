import type { CacheQueryOptions } from "../types.js";
import { canonicalize } from "./canonical.js";

/**
 * The part of a read's key that its per-query `cache` option contributes: reads with different
 * tags or lifetimes must not share an entry (a read tagged `b` served an entry stored by a read
 * tagged `a` would escape `invalidate({ tags: ["b"] })`; one asking `ttl: 1` would get a
 * default-lifetime entry). Empty when the option changes nothing, so such reads share the plain
 * entry. Prefixed with `c`, which no canonical argument encoding starts with, and self-delimiting,
 * so `variant + canonicalArgs` never equals another read's.
 */
export function cacheVariant(option: Exclude<CacheQueryOptions, false>): string {
  const tags = option.tags === undefined || option.tags.length === 0 ? undefined : [...new Set(option.tags)].sort();
  if (option.ttl === undefined && option.swr === undefined && tags === undefined) return "";
  return `c${canonicalize({ ttl: option.ttl, swr: option.swr, tags })}`;
}
