/**
 * Probabilistic early expiration (XFetch; Vattani, Chierichetti, Lowenstein, VLDB 2015): a read
 * refreshes ahead of expiry when `now − Δ·β·ln(rand) ≥ expiry`, where Δ is how long the value
 * took to load. The closer expiry and the slower the load, the likelier; under steady traffic
 * one reader refreshes before the entry expires, so a hot key never expires under load.
 */
export function shouldRefreshEarly(now: number, expiresAt: number, loadMs: number, beta: number, random: () => number): boolean {
  if (beta === 0 || loadMs <= 0) return false;
  return now - loadMs * beta * Math.log(random()) >= expiresAt;
}

/** The probability that shouldRefreshEarly returns true: P(−Δβ·ln U ≥ gap) = e^(−gap/(Δβ)). */
export function earlyRefreshProbability(now: number, expiresAt: number, loadMs: number, beta: number): number {
  if (beta === 0 || loadMs <= 0) return now >= expiresAt ? 1 : 0;
  return Math.min(1, Math.exp(-(expiresAt - now) / (loadMs * beta)));
}

/** Waits between retries of a failing background refresh: doubling, bounded. */
export function refreshBackoffMs(failures: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, failures - 1));
}
