import { describe, expect, it } from "vitest";
import { earlyRefreshProbability, refreshBackoffMs, shouldRefreshEarly } from "../../src/core/early-refresh.ts";
import { seededRandom } from "../helpers/random.ts";

describe("XFetch early refresh", () => {
  it("refreshes with the probability e^(−gap/(Δβ)) the formula gives", () => {
    const random = seededRandom(7);
    const expiresAt = 100_000;
    for (const [gap, loadMs, beta] of [[50, 100, 1], [100, 100, 1], [300, 100, 1], [300, 100, 3], [20, 10, 2]] as const) {
      const trials = 20_000;
      let refreshed = 0;
      for (let i = 0; i < trials; i++) if (shouldRefreshEarly(expiresAt - gap, expiresAt, loadMs, beta, random)) refreshed++;
      const expected = Math.exp(-gap / (loadMs * beta));
      expect(earlyRefreshProbability(expiresAt - gap, expiresAt, loadMs, beta)).toBeCloseTo(expected, 10);
      expect(Math.abs(refreshed / trials - expected)).toBeLessThan(0.015);
    }
  });

  it("always refreshes at or past expiry, never with β = 0 or an unknown load time", () => {
    expect(shouldRefreshEarly(1_000, 1_000, 5, 1, () => 0.999)).toBe(true);
    expect(shouldRefreshEarly(999, 1_000, 5, 0, () => 0)).toBe(false);
    expect(shouldRefreshEarly(999, 1_000, 0, 1, () => 0)).toBe(false);
  });

  it("follows the injected random source exactly: −Δβ·ln(u) against the gap", () => {
    // −100·ln(0.5) ≈ 69.3 ms: a gap of 69 refreshes, a gap of 70 does not.
    expect(shouldRefreshEarly(1_000 - 69, 1_000, 100, 1, () => 0.5)).toBe(true);
    expect(shouldRefreshEarly(1_000 - 70, 1_000, 100, 1, () => 0.5)).toBe(false);
  });

  it("backs off failing refreshes exponentially, up to 30 s", () => {
    expect([1, 2, 3, 4].map(refreshBackoffMs)).toEqual([500, 1_000, 2_000, 4_000]);
    expect(refreshBackoffMs(20)).toBe(30_000);
  });
});
