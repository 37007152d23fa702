import { describe, expect, it } from "vitest";
import { BloomFilter } from "../../src/guard/bloom-filter.ts";

describe("BloomFilter", () => {
  it("has no false negatives and about the configured false-positive rate", () => {
    const filter = BloomFilter.sized(10_000, 0.01);
    for (let i = 0; i < 10_000; i++) filter.add(`t:User:id=["${i}"]`);
    for (let i = 0; i < 10_000; i++) expect(filter.has(`t:User:id=["${i}"]`)).toBe(true);
    let falsePositives = 0;
    for (let i = 10_000; i < 60_000; i++) if (filter.has(`t:User:id=["${i}"]`)) falsePositives++;
    expect(falsePositives / 50_000).toBeLessThan(0.015);
    expect(filter.falsePositiveRate(10_000)).toBeCloseTo(0.01, 2);
  });

  it("measures the false-positive rate its bits give: about the configured rate at the designed count, more once overfull", () => {
    const filter = BloomFilter.sized(1_000, 0.01);
    expect(filter.currentErrorRate()).toBe(0);
    for (let i = 0; i < 1_000; i++) filter.add(`t:User:id=[${i}]`);
    const atCapacity = filter.currentErrorRate();
    expect(atCapacity).toBeGreaterThan(0.005);
    expect(atCapacity).toBeLessThan(0.02);
    expect(Math.abs(atCapacity - filter.falsePositiveRate(1_000)) / filter.falsePositiveRate(1_000)).toBeLessThan(0.5);
    for (let i = 1_000; i < 3_000; i++) filter.add(`t:User:id=[${i}]`);
    expect(filter.currentErrorRate()).toBeGreaterThan(0.1);
  });

  it("sizes from the item count and error rate (m = −n ln p / ln²2, k = m/n ln 2)", () => {
    const filter = BloomFilter.sized(100_000, 0.01);
    expect(filter.m).toBe(958_506);
    expect(filter.k).toBe(7);
    expect(filter.bits.byteLength).toBe(119_814);
  });

  it("lays bits out as Redis SETBIT does: bit 0 is the high bit of byte 0", () => {
    const filter = new BloomFilter(16, 1);
    const [position] = filter.positions("x");
    filter.add("x");
    expect(filter.bits[position! >> 3]).toBe(0x80 >> (position! & 7));
  });
});
