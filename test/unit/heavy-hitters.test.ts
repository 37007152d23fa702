import { describe, expect, it } from "vitest";
import { HeavyHitters } from "../../src/stats/heavy-hitters.ts";
import { QueryStats } from "../../src/stats/query-stats.ts";
import { seededRandom, zipf } from "../helpers/random.ts";

describe("HeavyHitters", () => {
  it("counts exactly while the distinct keys fit", () => {
    const hitters = new HeavyHitters<number>(10);
    for (const [key, times] of [["a", 5], ["b", 3], ["c", 1]] as const) for (let i = 0; i < times; i++) hitters.add(key, i);
    expect(hitters.drain(2).map(({ key, count, item }) => [key, count, item])).toEqual([["a", 5, 0], ["b", 3, 0]]);
    // A drain starts a new period: counts restart at zero, and keys with none are not listed.
    hitters.add("c", 9);
    expect(hitters.drain(10).map(({ key, count }) => [key, count])).toEqual([["c", 1]]);
    expect(hitters.drain(10)).toEqual([]);
  });

  it("finds the top 100 of zipf(1.1) traffic over 100 000 keys with 2 000 slots, in bounded size and work", () => {
    const capacity = 2_000;
    const hitters = new HeavyHitters<undefined>(capacity);
    const next = zipf(100_000, 1.1, seededRandom(11));
    const truth = new Map<number, number>();
    let peak = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const rank = next();
      truth.set(rank, (truth.get(rank) ?? 0) + 1);
      hitters.add(`k${rank}`, undefined);
      if (hitters.size > peak) peak = hitters.size;
    }
    const trueTop = [...truth].sort((a, b) => b[1] - a[1]).slice(0, 100).map(([rank]) => `k${rank}`);
    const found = new Set(hitters.drain(100).map(({ key }) => key));
    const overlap = trueTop.filter((key) => found.has(key)).length;
    expect(peak).toBeLessThanOrEqual(capacity);
    expect(hitters.counts.reads).toBe(1_000_000);
    // Each sweep examines at most `capacity` entries and frees at least half of them.
    expect(hitters.counts.swept).toBeLessThanOrEqual(2 * hitters.counts.reads);
    expect(overlap).toBeGreaterThanOrEqual(95);
  });

  it("never forgets a key read more than 2 · reads / capacity times", () => {
    const hitters = new HeavyHitters<undefined>(100);
    // 10 000 reads of one-off keys, with "hot" read every 40th time (250 > 2 · 10 250 / 100).
    for (let i = 0; i < 10_000; i++) {
      hitters.add(`cold${i}`, undefined);
      if (i % 40 === 0) hitters.add("hot", undefined);
    }
    const [first] = hitters.drain(1);
    expect(first?.key).toBe("hot");
    expect(first!.count).toBeGreaterThanOrEqual(250 - (2 * 10_250) / 100);
  });

  it("keeps only what `keep` takes of a key's first read; query statistics keep the replayable fields, never the result", () => {
    const kept = new HeavyHitters<number, { id: number; result: string }>(4, (read) => read.id);
    kept.add("a", { id: 7, result: "a large result" });
    kept.add("a", { id: 8, result: "another" });
    expect(kept.drain(1)).toEqual([{ key: "a", count: 2, item: 7 }]);
    const stats = new QueryStats({ store: undefined as never, prefix: "{t}", fingerprint: "f", settings: { counting: true, maxQueries: 10, halfLifeMs: 1_000, flushIntervalMs: 1_000 }, encodeArgs: JSON.stringify, decodeArgs: JSON.parse, report: () => {} });
    const args = { where: { id: 1 } };
    const read = { $model: "User", $operation: "findUnique", $args: args, $cacheOption: undefined, $runner: {}, $parent: {}, result: [1, 2, 3] };
    stats.popularity!.add("k", read);
    // The caller reuses its arguments for the next read: what was kept is the first read's.
    args.where.id = 2;
    const tracked = stats.popularity!.drain(1)[0]!.item;
    expect(Object.keys(tracked).sort()).toEqual(["json", "shape"]);
    expect(JSON.parse(tracked.json as string)).toEqual({ m: "User", o: "findUnique", a: JSON.stringify({ where: { id: 1 } }), f: "f" });
    // Arguments too long to replay keep nothing of themselves (an outside probe: 1 500 distinct reads with a 1 MB string each held 1.4 GB).
    stats.popularity!.add("big", { ...read, $args: { where: { name: "x".repeat(1_000_000) } } });
    expect(stats.popularity!.drain(1)[0]!.item.json).toBe("");
  });

  it("rejects a capacity below 2", () => {
    expect(() => new HeavyHitters(1)).toThrow(RangeError);
  });
});
