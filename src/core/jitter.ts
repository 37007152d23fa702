/**
 * Stretches or shrinks a TTL by up to ±`jitter` (a fraction), uniformly, so entries written
 * together expire apart instead of all at once (cache avalanche). `random` returns [0, 1).
 */
export function jitteredTtl(ttlMs: number, jitter: number, random: () => number): number {
  if (jitter === 0) return ttlMs;
  return Math.max(1, Math.round(ttlMs * (1 + jitter * (2 * random() - 1))));
}
