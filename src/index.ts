export { cacheExtension, type CacheControl } from "./extension.js";
export { CacheError, CacheConfigError, CacheArgumentError, CacheStoreError, UnencodableArgsError } from "./errors.js";
export type { CacheExtensionOptions, CacheQueryOptions, CacheStats, ModelCacheOptions, ModelStats, L1Options, Clock, RedisLike } from "./types.js";
