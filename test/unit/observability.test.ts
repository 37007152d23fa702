import { describe, expect, it } from "vitest";
import { parseCliArgs } from "../../src/cli/args.ts";
import { describeArgs, describeQuery } from "../../src/cli/format.ts";
import { ProgressBar, render } from "../../src/cli/progress-bar.ts";
import { CacheConfigError } from "../../src/errors.ts";
import { resolveOptions } from "../../src/options.ts";
import { Counters } from "../../src/stats/counters.ts";
import { CacheEvents, type LowHitRateEvent } from "../../src/stats/events.ts";
import { sumStats } from "../../src/stats/fleet-snapshots.ts";
import { LowHitRateAlert } from "../../src/stats/hit-rate-alert.ts";
import { checkWarmOptions } from "../../src/stats/warm.ts";
import type { CacheStats, ModelStats } from "../../src/types.ts";
import { configErrorOf } from "../helpers/config-error.ts";
import { FakeClock, seededRandom } from "../helpers/random.ts";

describe("query statistics options", () => {
  const fault = (options: unknown) => configErrorOf(() => resolveOptions({ models: { User: true }, ...(options as object) })).option;

  it("fills documented defaults", () => {
    const resolved = resolveOptions({ models: { User: true } });
    expect(resolved.queryStats).toEqual({ counting: true, maxQueries: 1000, halfLifeMs: 3_600_000, flushIntervalMs: 5000 });
    expect(resolved.lowHitRateAlert).toBeUndefined();
    expect(resolveOptions({ models: { User: true }, queryStats: false }).queryStats).toBeUndefined();
    expect(resolveOptions({ models: { User: true }, lowHitRateAlert: { threshold: 0.8 } }).lowHitRateAlert).toEqual({ threshold: 0.8, windowMs: 60_000, minRequests: 100 });
  });

  it("accepts the deprecated sampleRate with one warning: 0 still records nothing, any other rate counts every read", () => {
    const warnings: Error[] = [];
    const listener = (warning: Error) => warnings.push(warning);
    process.on("warning", listener);
    try {
      expect(resolveOptions({ models: { User: true }, queryStats: { sampleRate: 0 } }).queryStats?.counting).toBe(false);
      expect(resolveOptions({ models: { User: true }, queryStats: { sampleRate: 0.01 } }).queryStats?.counting).toBe(true);
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          expect(warnings.filter((w) => (w as Error & { code?: string }).code === "PCS_DEPRECATED_SAMPLE_RATE")).toHaveLength(1);
          resolve();
        }),
      );
    } finally {
      setImmediate(() => process.off("warning", listener));
    }
  });

  it("names the option at fault", () => {
    expect(fault({ queryStats: { sampleRate: 2 } })).toBe("queryStats.sampleRate");
    expect(fault({ queryStats: { maxQueries: 0 } })).toBe("queryStats.maxQueries");
    expect(fault({ queryStats: { maxQueries: 10_000_000 } })).toBe("queryStats.maxQueries");
    expect(fault({ queryStats: { halfLife: 0 } })).toBe("queryStats.halfLife");
    expect(fault({ queryStats: { flushInterval: 1.5 } })).toBe("queryStats.flushInterval");
    expect(fault({ queryStats: { sampelRate: 0.1 } })).toBe("queryStats.sampelRate");
    expect(fault({ queryStats: true })).toBe("queryStats");
    expect(fault({ lowHitRateAlert: {} })).toBe("lowHitRateAlert.threshold");
    expect(fault({ lowHitRateAlert: { threshold: -1 } })).toBe("lowHitRateAlert.threshold");
    expect(fault({ lowHitRateAlert: { threshold: 0.5, window: 0 } })).toBe("lowHitRateAlert.window");
    expect(fault({ lowHitRateAlert: { threshold: 0.5, minRequests: 0 } })).toBe("lowHitRateAlert.minRequests");
  });

  it("checks warm() options, naming the one at fault", () => {
    expect(checkWarmOptions(undefined)).toEqual({ top: 100, concurrency: 4, replayTimeout: 60_000, onProgress: undefined });
    expect(checkWarmOptions({ replayTimeout: 500 })).toMatchObject({ replayTimeout: 500 });
    for (const replayTimeout of [0, 1.5, "1000", 2 ** 31]) expect(() => checkWarmOptions({ replayTimeout })).toThrow(expect.objectContaining({ code: "E_INVALID_ARGUMENT", argument: "replayTimeout" }));
    expect(() => checkWarmOptions({ top: 1.5 })).toThrow(expect.objectContaining({ code: "E_INVALID_ARGUMENT", argument: "top" }));
    expect(() => checkWarmOptions({ concurrency: 0 })).toThrow(expect.objectContaining({ argument: "concurrency" }));
    expect(() => checkWarmOptions({ onProgress: 1 })).toThrow(expect.objectContaining({ argument: "onProgress" }));
    expect(() => checkWarmOptions({ tpo: 1 })).toThrow(expect.objectContaining({ argument: "tpo" }));
  });
});

describe("low-hit-rate alert", () => {
  it("fires below the threshold over the window and clears when the rate recovers", () => {
    const clock = new FakeClock();
    const models: Record<string, ModelStats> = { User: { hits: 0, misses: 0 } };
    const events: LowHitRateEvent[] = [];
    const alert = new LowHitRateAlert({ threshold: 0.5, windowMs: 10_000, minRequests: 10 }, () => structuredClone(models), clock, (event) => events.push(event));
    alert.check();
    const step = (hits: number, misses: number) => {
      models.User!.hits += hits;
      models.User!.misses += misses;
      clock.advance(1_000);
      alert.check();
    };
    step(1, 5); // 6 reads: too few to judge
    expect(events).toHaveLength(0);
    step(1, 5); // 12 reads, 2 hits
    expect(events).toEqual([{ type: "alert", alert: "lowHitRate", state: "firing", model: "User", hitRate: 2 / 12, threshold: 0.5, requests: 12, windowMs: 10_000 }]);
    step(10, 0); // 22 reads, 12 hits: above the threshold again
    expect(events.map((event) => event.state)).toEqual(["firing", "cleared"]);
    // The window slides: the early misses leave it, only hits remain. No new event.
    for (let i = 0; i < 12; i++) step(2, 0);
    expect(events).toHaveLength(2);
    // A drop inside the window fires again.
    for (let i = 0; i < 10; i++) step(0, 5);
    expect(events.map((event) => event.state)).toEqual(["firing", "cleared", "firing"]);
  });
});

describe("events", () => {
  it("attaches to the counters only while someone listens to counted events", () => {
    const counters = new Counters();
    const events = new CacheEvents();
    events.observe((observer) => (counters.observer = observer));
    expect(counters.observer).toBeUndefined();
    const seen: string[] = [];
    const listener = (event: { type: string }) => seen.push(event.type);
    events.on("alert", listener);
    expect(counters.observer).toBeUndefined();
    events.on("miss", listener);
    expect(counters.observer).toBe(events);
    counters.miss("User");
    counters.hit("User", "l1", false);
    events.off("miss", listener);
    expect(counters.observer).toBeUndefined();
    expect(seen).toEqual(["miss"]);
  });

  it("never throws for an error nobody listens to", () => {
    expect(() => new CacheEvents().error(new CacheConfigError("x", "y"))).not.toThrow();
  });

  it("resets every counter", () => {
    const counters = new Counters();
    counters.hit("User", "l2", true);
    counters.miss("Post");
    counters.bypass("transaction");
    counters.stale("User");
    counters.reset();
    const snapshot = counters.snapshot();
    expect(Object.values(snapshot).filter((value) => typeof value === "number" && value !== 0)).toEqual([]);
    expect(snapshot.models).toEqual({});
    expect(snapshot.bypasses).toEqual({});
  });
});

describe("fleet statistics", () => {
  it("adds instances' counters up and recomputes the hit rate", () => {
    const one = { hits: 3, misses: 1, hitRate: 0.75, l1Hits: 3, bypasses: { transaction: 1 }, models: { User: { hits: 3, misses: 1 } }, hotKeys: [{ key: "a", estimate: 5 }, { key: "b", estimate: 4 }] };
    const two = { hits: 1, misses: 3, hitRate: 0.25, l1Hits: 1, circuitOpen: true, bypasses: { "cache: false": 2 }, models: { User: { hits: 1, misses: 0 }, Post: { hits: 0, misses: 3 } }, hotKeys: [{ key: "b", estimate: 3 }] };
    const sum = sumStats([one, two] as unknown as CacheStats[]);
    expect(sum).toEqual({
      hits: 4,
      misses: 4,
      hitRate: 0.5,
      l1Hits: 4,
      bypasses: { transaction: 1, "cache: false": 2 },
      models: { User: { hits: 4, misses: 1 }, Post: { hits: 0, misses: 3 } },
      hotKeys: [{ key: "b", estimate: 7 }, { key: "a", estimate: 5 }],
      // A flag: whether any instance has its circuit open.
      circuitOpen: true,
    });
  });
});

describe("CLI helpers", () => {
  it("parses commands and options, rejecting what does not apply", () => {
    expect(parseCliArgs(["warm", "--client", "./db.js", "--top", "50"])).toMatchObject({ command: "warm", client: "./db.js", top: 50, json: false });
    expect(() => parseCliArgs([])).toThrow(/no command given/);
    expect(() => parseCliArgs(["stats", "--client", "x", "--top", "5"])).toThrow("--top does not apply to stats");
    expect(() => parseCliArgs(["flush", "--client", "x", "--quiet"])).toThrow("--quiet does not apply to flush");
    expect(parseCliArgs(["warm", "--client", "x", "--quiet"]).quiet).toBe(true);
    expect(() => parseCliArgs(["top"])).toThrow("--client <module> is required");
    expect(() => parseCliArgs(["top", "--client", "x", "--limit", "0"])).toThrow(/--limit expects a positive integer/);
    expect(() => parseCliArgs(["top", "--client", "x", "--nope"])).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    // parseArgs would keep the last one silently.
    expect(() => parseCliArgs(["top", "--client", "./a.js", "-c", "./b.js"])).toThrow("--client given more than once");
    // A repeated flag is harmless.
    expect(parseCliArgs(["top", "-c", "./a.js", "--json", "--json"])).toMatchObject({ json: true });
    expect(parseCliArgs(["top", "-h", "-h"])).toMatchObject({ command: "help" });
  });

  it("draws a progress bar in place on a terminal, a line per tenth in a log", () => {
    expect(render({ total: 4, done: 1, warmed: 1, failed: 0, skipped: 0 })).toBe(`warming [${"█".repeat(8)}${"░".repeat(22)}] 1/4  warmed 1 · failed 0 · skipped 0`);
    const written: string[] = [];
    const log = new ProgressBar({ write: (text) => written.push(text) });
    for (let done = 1; done <= 40; done++) log.update({ total: 40, done, warmed: done, failed: 0, skipped: 0 });
    log.finish();
    // The first settled query, then each tenth of the way.
    expect(written).toHaveLength(11);
    const terminal: string[] = [];
    const bar = new ProgressBar({ write: (text) => terminal.push(text), isTTY: true });
    bar.update({ total: 2, done: 1, warmed: 1, failed: 0, skipped: 0 });
    bar.update({ total: 2, done: 2, warmed: 1, failed: 1, skipped: 0 });
    bar.finish();
    expect(terminal.map((text) => text.charAt(0))).toEqual(["\r", "\r", "\n"]);
  });

  it("shortens arguments for display", () => {
    expect(describeArgs({ where: { id: 12n, avatar: new Uint8Array(3) } })).toBe('{"where":{"id":"12n","avatar":"<3 bytes>"}}');
    expect(describeArgs({ where: { name: "x".repeat(100) } }, 20)).toHaveLength(20);
    // The cache option first, so that a cut does not hide what tells two queries apart (outside probe 175).
    expect(describeQuery({ where: { name: "x".repeat(100) } }, { ttl: 60 }, 30)).toMatch(/^\{"cache":\{"ttl":60\},"where/);
    expect(describeQuery({ where: { id: 1 } }, undefined)).toBe('{"where":{"id":1}}');
  });
});

describe("CLI durations", () => {
  it("shows milliseconds below a second and seconds above", async () => {
    const { duration } = await import("../../src/cli/format.ts");
    expect([0.04, 3.25, 12.4, 850, 1_340, 42_000, 125_000].map(duration)).toEqual(["0.0 ms", "3.3 ms", "12 ms", "850 ms", "1.3 s", "42.0 s", "125 s"]);
  });
});
