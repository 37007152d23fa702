/** A per-query lifetime after fitting it under the configured bound. */
export interface FittedLifetime {
  ttlMs: number;
  swrMs: number;
  /** Whether ttl or swr had to shrink to fit. */
  clamped: boolean;
}

/**
 * Fits a per-query `ttl + swr` (jitter included) within `maxLifetimeMs`, in whole milliseconds
 * (Redis PX takes integers). A lifetime above the bound is shortened, not refused: the read still
 * caches, for as long as the bound allows, and the caller counts the clamp. ttl keeps priority
 * over swr.
 */
export function fitLifetime(ttlMs: number, swrMs: number, jitter: number, maxLifetimeMs: number): FittedLifetime {
  // ttl 0 with an swr window is legal (stored stale at once); otherwise PX needs at least 1 ms.
  const ttl = Math.max(swrMs > 0 ? 0 : 1, Math.round(ttlMs));
  const swr = Math.round(swrMs);
  const budget = Math.max(1, Math.floor(maxLifetimeMs / (1 + jitter)));
  if (ttl + swr <= budget) return { ttlMs: ttl, swrMs: swr, clamped: false };
  const fittedTtl = Math.min(ttl, budget);
  return { ttlMs: fittedTtl, swrMs: Math.min(swr, budget - fittedTtl), clamped: true };
}
