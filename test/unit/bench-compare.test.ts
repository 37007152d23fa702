// The pure parts of bench:compare: the Zipf sampler, the stale-read floor, the summary of rounds
// and the SVG chart. (The benchmark itself prints tables; it is not a test.)
import { describe, expect, it } from "vitest";
import { VersionFloor } from "../../bench/compare/load.ts";
import { summarize, type RoundResult } from "../../bench/compare/results.ts";
import { zipfSampler } from "../../bench/lib/zipf.ts";
import { groupedBarChart } from "../../bench/lib/svg-chart.ts";
import { seededRandom } from "../helpers/random.ts";

describe("zipfSampler", () => {
  it("draws ranks in range with frequencies falling as 1/rank^s", () => {
    const draw = zipfSampler(1000, 1.1, seededRandom(7));
    const counts = new Array<number>(1000).fill(0);
    for (let i = 0; i < 200_000; i++) counts[draw()]!++;
    expect(counts.every((c) => c >= 0)).toBe(true);
    // P(rank 0) / P(rank 1) = 2^1.1 ≈ 2.14; P(rank 0) / P(rank 9) = 10^1.1 ≈ 12.6
    expect(counts[0]! / counts[1]!).toBeGreaterThan(1.9);
    expect(counts[0]! / counts[1]!).toBeLessThan(2.4);
    expect(counts[0]! / counts[9]!).toBeGreaterThan(10);
    expect(counts[0]! / counts[9]!).toBeLessThan(15.5);
  });

  it("never returns a rank outside 0..n-1, even for draws at the edges", () => {
    const edges = [0, 1 - Number.EPSILON, 0.5];
    let i = 0;
    const draw = zipfSampler(10, 1.1, () => edges[i++ % edges.length]!);
    for (let k = 0; k < 9; k++) {
      const rank = draw();
      expect(rank).toBeGreaterThanOrEqual(0);
      expect(rank).toBeLessThan(10);
    }
  });
});

describe("VersionFloor", () => {
  it("keeps the highest completed version per row", () => {
    const floor = new VersionFloor();
    expect(floor.get(1)).toBe(0);
    floor.completed(1, 3);
    floor.completed(1, 2); // a slower write that resolved later but was earlier
    expect(floor.get(1)).toBe(3);
    expect(floor.get(2)).toBe(0);
  });
});

describe("summarize", () => {
  const round = (over: Partial<RoundResult>): RoundResult => ({
    workload: "zipf",
    system: "shield",
    round: 0,
    ops: 1000,
    opsPerSec: 100,
    p50Ms: 1,
    p99Ms: 10,
    writeP50Ms: 2,
    statements: 50,
    redis: { byName: { get: 900, evalsha: 100 }, total: 1000, scripts: 100 },
    staleReads: 0,
    wrongReads: 0,
    errors: 0,
    firstError: undefined,
    ...over,
  });

  it("takes medians of rates and latencies, and per-1k totals of counts", () => {
    const s = summarize([round({ opsPerSec: 100, p99Ms: 30 }), round({ round: 1, opsPerSec: 300, p99Ms: 10, staleReads: 2 }), round({ round: 2, opsPerSec: 200, p99Ms: 20, ops: 2000, statements: 150 })]);
    expect(s.opsPerSec).toBe(200);
    expect(s.p99Ms).toBe(20);
    expect(s.ops).toBe(4000);
    expect(s.statementsPer1k).toBe(62.5); // (50 + 50 + 150) / 4000 ops
    expect(s.redisPer1k).toBe(750);
    expect(s.scriptsPer1k).toBe(75);
    expect(s.staleReads).toBe(2);
    expect(s.topCommands).toBe("get 675, evalsha 75");
  });
});

describe("groupedBarChart", () => {
  const chart = (log: boolean) =>
    groupedBarChart({
      title: "T <&>",
      unit: "ops/s",
      groups: ["a", "b"],
      series: [
        { name: "one", color: "#111" },
        { name: "two", color: "#222" },
      ],
      values: [
        [10, 1000],
        [NaN, 100],
      ],
      log,
    });

  it("draws one bar per finite value, taller for larger values, and escapes text", () => {
    for (const log of [false, true]) {
      const svg = chart(log);
      expect(svg.startsWith("<svg")).toBe(true);
      expect(svg).toContain("T &lt;&amp;&gt;");
      const heights = [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="#(111|222)"><title>/g)].map((m) => Number(m[1]));
      expect(heights).toHaveLength(3); // the NaN bar is left out
      const [ten, thousand, hundred] = heights as [number, number, number];
      expect(ten).toBeLessThan(hundred);
      expect(hundred).toBeLessThan(thousand);
    }
  });
});
