import { describe, expect, it } from "vitest";
import { batchesOf, NAMES_PER_BUMP } from "../../src/invalidation/bump-batches.ts";
import { resolveOptions } from "../../src/options.ts";
import type { CacheExtensionOptions } from "../../src/types.ts";
import { configErrorOf } from "../helpers/config-error.ts";

function optionAtFault(options: Record<string, unknown>): string {
  return configErrorOf(() => resolveOptions({ models: { User: true }, ...options } as CacheExtensionOptions)).option;
}

describe("failure options", () => {
  it("documented defaults", () => {
    const resolved = resolveOptions({ models: { User: true } });
    expect(resolved.circuitBreaker).toEqual({ threshold: 5, probeIntervalMs: 500 });
    expect(resolved.onRedisDownWrites).toBe("proceed");
    expect(resolved.redisDownWriteWaitMs).toBe(5_000);
    expect(resolveOptions({ models: { User: true }, circuitBreaker: false }).circuitBreaker).toBeUndefined();
    expect(resolveOptions({ models: { User: true }, circuitBreaker: { threshold: 2, probeInterval: 50 }, onRedisDownWrites: "refuse" })).toMatchObject({ circuitBreaker: { threshold: 2, probeIntervalMs: 50 }, onRedisDownWrites: "refuse" });
  });

  it("names the option at fault", () => {
    expect(optionAtFault({ circuitBreaker: true })).toBe("circuitBreaker");
    expect(optionAtFault({ circuitBreaker: { threshold: 0 } })).toBe("circuitBreaker.threshold");
    expect(optionAtFault({ circuitBreaker: { threshold: 1.5 } })).toBe("circuitBreaker.threshold");
    expect(optionAtFault({ circuitBreaker: { probeInterval: 0 } })).toBe("circuitBreaker.probeInterval");
    expect(optionAtFault({ circuitBreaker: { probe: 1 } })).toBe("circuitBreaker.probe");
    expect(optionAtFault({ onRedisDownWrites: "drop" })).toBe("onRedisDownWrites");
    expect(optionAtFault({ redisDownWriteWait: -1 })).toBe("redisDownWriteWait");
  });

  it("tells a bigint, a symbol or a function it refuses as such, not with JSON's TypeError (outside probe 283)", () => {
    expect(() => resolveOptions({ models: { User: true }, onRedisDownWrites: 1n } as never)).toThrow(/onRedisDownWrites.*got 1n \(a bigint\)/);
    expect(() => resolveOptions({ models: { User: true }, onRedisDownWrites: Symbol("fast") } as never)).toThrow(/got a symbol \(fast\)/);
    expect(() => resolveOptions({ models: { User: true }, onRedisDownWrites: () => "proceed" } as never)).toThrow(/got a function/);
  });
});

describe("invalidation batches", () => {
  it("slices names in order into batches of at most NAMES_PER_BUMP", () => {
    const names = Array.from({ length: 2_500 }, (_, i) => `u:${i}`);
    const batches = batchesOf(names);
    expect(batches.map((batch) => batch.length)).toEqual([NAMES_PER_BUMP, NAMES_PER_BUMP, 500]);
    expect(batches.flat()).toEqual(names);
  });
});
