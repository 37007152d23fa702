import { describe, expect, it } from "vitest";
import { HotKeyDetector } from "../../src/core/hot-keys.ts";
import { FakeClock, seededRandom } from "../helpers/random.ts";

const options = { threshold: 1_000, windowMs: 10_000, sampleEvery: 8, topK: 5 };

/** Zipf(s) over n keys by inverse transform on the cumulative weights. */
function zipf(n: number, s: number, random: () => number): () => number {
  const weights = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  weights.reduce((sum, weight, i) => (cumulative[i] = sum + weight / total), 0);
  return () => {
    const u = random();
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cumulative[mid]! < u) low = mid + 1;
      else high = mid;
    }
    return low;
  };
}

describe("HotKeyDetector", () => {
  it("lists as hot only keys at or above the threshold; top() also shows the candidates", () => {
    const detector = new HotKeyDetector({ ...options, threshold: 80 }, new FakeClock());
    for (let i = 0; i < 200; i++) detector.touch("popular");
    for (let i = 0; i < 24; i++) detector.touch("warm");
    expect(detector.hot().map((entry) => entry.key)).toEqual(["popular"]);
    expect(detector.hot()[0]!.estimate).toBeGreaterThanOrEqual(80);
    expect(detector.top().map((entry) => entry.key)).toContain("warm");
  });

  it("finds the hottest keys of a zipf(1.2) workload and estimates their counts", () => {
    const detector = new HotKeyDetector(options, new FakeClock());
    const next = zipf(10_000, 1.2, seededRandom(5));
    const counts = new Map<number, number>();
    for (let i = 0; i < 100_000; i++) {
      const key = next();
      counts.set(key, (counts.get(key) ?? 0) + 1);
      detector.touch(`k${key}`);
    }
    const top = detector.top();
    expect(top.slice(0, 3).map((entry) => entry.key)).toEqual(["k0", "k1", "k2"]);
    const trueCount = counts.get(0)!;
    expect(Math.abs(top[0]!.estimate - trueCount) / trueCount).toBeLessThan(0.1);
    expect(detector.isHot("k0")).toBe(true);
    expect(detector.isHot("k9999")).toBe(false);
  });

  it("finds every key of traffic that cycles through keys in step with the sampling (two keys read alternately, outside probe 106: one was counted twice, the other never)", () => {
    for (const keys of [2, 4, 8]) {
      const detector = new HotKeyDetector({ ...options, threshold: 100, topK: 10 }, new FakeClock(), seededRandom(keys));
      for (let i = 0; i < 2_000 * keys; i++) detector.touch(`k${i % keys}`);
      expect(detector.hot().map((entry) => entry.key).sort(), `${keys} keys`).toEqual(Array.from({ length: keys }, (_, i) => `k${i}`));
      for (const { estimate } of detector.hot()) expect(Math.abs(estimate - 2_000) / 2_000, `${keys} keys`).toBeLessThan(0.25);
    }
  });

  it("cools down: a key stops being hot once reads stop for a few windows", () => {
    const clock = new FakeClock();
    const detector = new HotKeyDetector(options, clock);
    for (let i = 0; i < 20_000; i++) detector.touch("popular");
    expect(detector.isHot("popular")).toBe(true);
    clock.advance(50_000);
    for (let i = 0; i < 16; i++) detector.touch("other");
    expect(detector.isHot("popular")).toBe(false);
    expect(detector.top().find((entry) => entry.key === "popular")?.estimate ?? 0).toBeLessThan(1_000);
  });

  it("still cools after the wall clock stepped back: a key read at 40 % of the threshold per window never turns hot (outside probe 155: hot for good after a 10-minute step back)", () => {
    for (const step of [0, -600_000]) {
      const clock = new FakeClock();
      const detector = new HotKeyDetector({ ...options, sampleEvery: 1 }, clock);
      clock.advance(step);
      for (let window = 0; window < 20; window++) {
        for (let i = 0; i < 400; i++) {
          detector.touch("steady");
          clock.advance(options.windowMs / 400);
        }
        expect(detector.isHot("steady"), `window ${window}, clock stepped ${step} ms`).toBe(false);
      }
    }
  });

  it("keeps only topK keys", () => {
    const detector = new HotKeyDetector({ ...options, sampleEvery: 1 }, new FakeClock());
    for (let key = 0; key < 50; key++) for (let i = 0; i <= key; i++) detector.touch(`k${key}`);
    expect(detector.top().map((entry) => entry.key)).toEqual(["k49", "k48", "k47", "k46", "k45"]);
  });
});
