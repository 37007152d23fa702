import { describe, expect, it } from "vitest";
import { jitteredTtl } from "../../src/core/jitter.ts";
import { seededRandom } from "../helpers/random.ts";

describe("jitteredTtl", () => {
  it("maps the random source linearly onto ttl ± jitter", () => {
    expect(jitteredTtl(10_000, 0.1, () => 0)).toBe(9_000);
    expect(jitteredTtl(10_000, 0.1, () => 0.5)).toBe(10_000);
    expect(jitteredTtl(10_000, 0.1, () => 0.999999)).toBe(11_000);
    expect(jitteredTtl(10_000, 0, () => 0)).toBe(10_000);
  });

  it("spreads TTLs uniformly over the window, so entries written together expire apart", () => {
    const random = seededRandom(42);
    const samples = Array.from({ length: 20_000 }, () => jitteredTtl(60_000, 0.1, random));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(54_000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(66_000);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(Math.abs(mean - 60_000)).toBeLessThan(150);
    // Ten equal buckets of a uniform distribution each hold about a tenth of the samples.
    const buckets = new Array<number>(10).fill(0);
    for (const ttl of samples) buckets[Math.min(9, Math.floor((ttl - 54_000) / 1_200))]!++;
    for (const count of buckets) expect(count).toBeGreaterThan(1_700);
    expect(new Set(samples).size).toBeGreaterThan(5_000);
  });

  it("never returns a TTL below one millisecond", () => {
    expect(jitteredTtl(1, 1, () => 0)).toBe(1);
  });
});
