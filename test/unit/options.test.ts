import { describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/errors.ts";
import { fitLifetime } from "../../src/core/lifetime.ts";
import { checkModelNames, MAX_LIFETIME_S, MAX_TIMER_MS, resolveOptions } from "../../src/options.ts";
import { MAX_L1_ENTRIES, MIN_BLOOM_ERROR_RATE } from "../../src/option-limits.ts";
import type { CacheExtensionOptions } from "../../src/types.ts";
import { configErrorOf } from "../helpers/config-error.ts";

function optionAtFault(options: unknown): string {
  const error = configErrorOf(() => resolveOptions(options as CacheExtensionOptions));
  expect(error.code).toBe("E_INVALID_OPTION");
  return error.option;
}

describe("resolveOptions", () => {
  it("refuses a Redis client that is not ioredis, naming what it lacks (outside probe 267: node-redis was taken, and the cache was silently off)", () => {
    const fn = () => undefined;
    // The members of a node-redis v4 client the cache could mistake for ioredis's: camelCase commands, no callBuffer or evalsha.
    const nodeRedis = { isOpen: true, get: fn, set: fn, mGet: fn, del: fn, pTTL: fn, publish: fn, evalSha: fn, eval: fn, sendCommand: fn, ping: fn, zAdd: fn, zRem: fn, duplicate: fn, on: fn, connect: fn };
    const error = configErrorOf(() => resolveOptions({ models: { User: true }, redis: nodeRedis as never }));
    expect(error.option).toBe("redis");
    expect(error.message).toMatch(/ioredis/);
    expect(error.message).toMatch(/mget\(\).*evalsha\(\).*callBuffer\(\)/);
    expect(configErrorOf(() => resolveOptions({ models: { User: true }, redis: "redis://127.0.0.1:6379" as never })).message).toMatch(/got "redis:\/\/127\.0\.0\.1:6379"/);
  });

  it("says what it got, its type visible: a value that looks valid printed bare does not read as one (outside probe 267)", () => {
    const messageOf = (options: unknown) => configErrorOf(() => resolveOptions(options as CacheExtensionOptions)).message;
    expect(messageOf({ models: { User: true }, ttl: 60n })).toMatch(/got 60n \(a bigint\)$/);
    expect(messageOf({ models: { User: true }, redisDownWriteWait: "5000" })).toMatch(/got "5000"$/);
    expect(messageOf({ models: { User: true }, circuitBreaker: { threshold: [3] } })).toMatch(/got an array$/);
  });

  it("takes a model left out of the cache with its dependsOn, members read as every option is read (outside probes 195, 197)", () => {
    const inherited = Object.assign(Object.create({ cache: false }) as object, { dependsOn: ["Tag"] });
    for (const entry of [{ cache: false, dependsOn: ["Tag"] }, inherited]) {
      const resolved = resolveOptions({ models: { User: true, Post: entry as never } });
      expect(resolved.models.has("Post")).toBe(false);
      expect(resolved.optedOutModels).toContain("Post");
      expect(resolved.uncachedDependsOn.get("Post")).toEqual(["Tag"]);
    }
    expect(optionAtFault({ models: { Post: { cache: false, dependsOn: ["Tag"], l1: false } } })).toBe("models.Post.l1");
    expect(optionAtFault({ models: { Post: { cache: 0, dependsOn: ["Tag"] } } })).toBe("models.Post.cache");
    expect(optionAtFault({ models: { Post: { cache: false, dependsOn: "Tag" } } })).toBe("models.Post.dependsOn");
  });

  it("fills documented defaults and per-model fallbacks", () => {
    const resolved = resolveOptions({ models: { User: true, Post: { ttl: 5, l1: false } } });
    expect(resolved.namespace).toBe("pcs");
    expect(resolved.models.get("User")).toEqual({ ttlMs: 60_000, swrMs: 0, jitter: 0.1, negativeTtlMs: 30_000, useL1: true });
    expect(resolved.models.get("Post")).toEqual({ ttlMs: 5_000, swrMs: 0, jitter: 0.1, negativeTtlMs: 30_000, useL1: false });
    expect(resolved.l1).toEqual({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, maxTtlMs: 60_000 });
    expect(resolved.redisTimeoutMs).toBe(250);
  });

  it("leaves models set to false uncached", () => {
    expect(resolveOptions({ models: { User: false } }).models.size).toBe(0);
  });

  it("names the option at fault", () => {
    expect(optionAtFault(undefined)).toBe("options");
    expect(optionAtFault({})).toBe("models");
    expect(optionAtFault({ models: { User: true }, tll: 5 })).toBe("tll");
    expect(optionAtFault({ models: { User: true }, ttl: -1 })).toBe("ttl");
    expect(optionAtFault({ models: { User: true }, ttl: 0 })).toBe("ttl");
    expect(optionAtFault({ models: { User: true }, jitter: 1.5 })).toBe("jitter");
    expect(optionAtFault({ models: { User: true }, swr: Number.NaN })).toBe("swr");
    expect(optionAtFault({ models: { User: { ttl: "60" } } })).toBe("models.User.ttl");
    expect(optionAtFault({ models: { User: { tttl: 60 } } })).toBe("models.User.tttl");
    expect(optionAtFault({ models: { User: 1 } })).toBe("models.User");
    expect(optionAtFault({ models: { User: true }, namespace: "a b" })).toBe("namespace");
    expect(optionAtFault({ models: { User: true }, redis: {} })).toBe("redis");
    expect(optionAtFault({ models: { User: true }, redis: { get() {}, set() {} } })).toBe("redis");
    expect(optionAtFault({ models: { User: true }, l1: { maxEntries: 0 } })).toBe("l1.maxEntries");
    expect(optionAtFault({ models: { User: true }, l1: { size: 1 } })).toBe("l1.size");
    expect(optionAtFault({ models: { User: true }, clock: 5 })).toBe("clock");
    // Asked once when the options are read, so a cache is never left half-built by them (outside probe 283).
    expect(optionAtFault({ models: { User: true }, clock: { now: () => { throw new Error("no time"); } } })).toBe("clock");
    expect(optionAtFault({ models: { User: true }, clock: { now: () => "abc" } })).toBe("clock");
    expect(optionAtFault({ models: { User: true }, clock: { now: () => NaN } })).toBe("clock");
    expect(optionAtFault({ models: { User: true }, random: () => { throw new Error("no entropy"); } })).toBe("random");
    expect(optionAtFault({ models: { User: true }, random: () => NaN })).toBe("random");
    expect(optionAtFault({ models: { User: true }, random: () => 1 })).toBe("random");
    expect(optionAtFault({ models: { User: true }, onError: "log" })).toBe("onError");
  });

  it("asks random() once when reading the options and gives that answer to its first use: a seeded sequence is not shifted", () => {
    const answers = [0.25, 0.5, 0.75];
    let next = 0;
    const resolved = resolveOptions({ models: { User: true }, random: () => answers[next++]! });
    expect([resolved.random(), resolved.random(), resolved.random()]).toEqual(answers);
  });

  it("rejects model names the schema does not have", () => {
    const resolved = resolveOptions({ models: { User: true, Usr: true } });
    expect(() => checkModelNames(resolved.models, ["User", "Post"])).toThrow(CacheConfigError);
    expect(() => checkModelNames(resolved.models, ["User", "Post"])).toThrow(/models\.Usr/);
  });

  it("refuses timers Node would run after 1 ms and lifetimes Redis would refuse", () => {
    const models = { User: true };
    expect(optionAtFault({ models, queryStats: { flushInterval: 2 ** 31 } })).toBe("queryStats.flushInterval");
    expect(optionAtFault({ models, ttl: Number.MAX_SAFE_INTEGER })).toBe("ttl");
    expect(optionAtFault({ models, ttl: 1e300 })).toBe("ttl");
    expect(optionAtFault({ models: { User: { swr: 1e12 } } })).toBe("models.User.swr");
    expect(optionAtFault({ models, negativeTtl: MAX_LIFETIME_S + 1 })).toBe("negativeTtl");
    expect(optionAtFault({ models, maxLifetime: 1e300 })).toBe("maxLifetime");
    expect(optionAtFault({ models, circuitBreaker: { probeInterval: 3e9 } })).toBe("circuitBreaker.probeInterval");
    expect(optionAtFault({ models, redisDownWriteWait: 3e9 })).toBe("redisDownWriteWait");
    expect(optionAtFault({ models, lateCommitWindow: 0 })).toBe("lateCommitWindow");
    // Never longer than an unconfirmed write's marks stand: maxLifetime + 60 s.
    expect(optionAtFault({ models: { User: { ttl: 10, jitter: 0 } }, negativeTtl: 10, lateCommitWindow: 71 })).toBe("lateCommitWindow");
    expect(resolveOptions({ models: { User: { ttl: 10, jitter: 0 } }, negativeTtl: 10, lateCommitWindow: 70 }).lateCommitWindowMs).toBe(70_000);
    expect(resolveOptions({ models }).lateCommitWindowMs).toBe(30_000);
    for (const bad of [0, -1, 1.5, "4MB", 512 * 1024 * 1024 + 1]) expect(optionAtFault({ models, maxEntrySize: bad })).toBe("maxEntrySize");
    expect(resolveOptions({ models }).maxEntryBytes).toBe(4 * 1024 * 1024);
    expect(resolveOptions({ models, maxEntrySize: 1024 }).maxEntryBytes).toBe(1024);
    expect(optionAtFault({ models, l1: { maxTtl: 1e300 } })).toBe("l1.maxTtl");
    for (const option of ["redisTimeout", "ackTimeout", "lockTtl"]) expect(optionAtFault({ models, [option]: 2 ** 31 })).toBe(option);
    expect(optionAtFault({ models, hotKeys: { window: 2 ** 31 } })).toBe("hotKeys.window");
    // Every fill of a hot key writes each replica; a threshold past the sketch's counters could never be reached.
    expect(optionAtFault({ models, hotKeys: { replicas: 65 } })).toBe("hotKeys.replicas");
    expect(optionAtFault({ models, hotKeys: { threshold: 2 ** 31 } })).toBe("hotKeys.threshold");
    // An array is not an options object: its defaults would apply silently.
    for (const option of ["l1", "lease", "hotKeys", "circuitBreaker", "queryStats", "lowHitRateAlert"]) expect(optionAtFault({ models, [option]: [] }), option).toBe(option);
    expect(optionAtFault({ models: { User: [] } })).toBe("models.User");
    expect(optionAtFault({ models: { User: { bloom: [] } } })).toBe("models.User.bloom");
    // One filter per database, whatever the scope (outside probe 225: a tenant's pool under row-level security built it for everyone).
    expect(optionAtFault({ scope: "org:1", models: { Post: true, User: { bloom: true } } })).toBe("models.User.bloom");
    expect(optionAtFault({ scope: "", models: { User: { bloom: true } } }), "an invalid scope is reported as such").toBe("scope");
    expect(() => resolveOptions({ scope: () => undefined, models: { User: { bloom: true } } })).not.toThrow();
    expect(optionAtFault({ models, lowHitRateAlert: { threshold: 0.5, window: 2 ** 31 } })).toBe("lowHitRateAlert.window");
    expect(optionAtFault({ models, queryStats: { halfLife: 1e300 } })).toBe("queryStats.halfLife");
    expect(optionAtFault({ models: { User: { bloom: { maxAge: 1e300 } } } })).toBe("models.User.bloom.maxAge");
    // Outside probe 239: lru-cache reserves every entry up front (1e8 ran the heap out of memory,
    // 2^32 threw a bare RangeError); a filter that needs over 64 hashes was refused when loaded.
    expect(optionAtFault({ models, l1: { maxEntries: MAX_L1_ENTRIES + 1 } })).toBe("l1.maxEntries");
    expect(resolveOptions({ models, l1: { maxEntries: MAX_L1_ENTRIES } }).l1!.maxEntries).toBe(MAX_L1_ENTRIES);
    expect(optionAtFault({ models: { User: { bloom: { errorRate: 1e-20 } } } })).toBe("models.User.bloom.errorRate");
    // `null` is not "not set", here as everywhere.
    for (const option of ["threshold", "probeInterval"]) expect(optionAtFault({ models, circuitBreaker: { [option]: null } })).toBe(`circuitBreaker.${option}`);
  });

  it("refuses a maxLifetime shorter than a model's own lifetime (an entry must not outlive its versions), naming the model", () => {
    expect(() => resolveOptions({ models: { User: { ttl: 1, jitter: 0 } }, maxLifetime: 2 })).toThrow(/models\.User's lifetime, 30 s/);
    expect(optionAtFault({ models: { User: { ttl: 1, jitter: 0 } }, maxLifetime: 2 })).toBe("maxLifetime");
    expect(optionAtFault({ models: { User: true }, maxLifetime: 0 })).toBe("maxLifetime");
    expect(resolveOptions({ models: { User: { ttl: 1, jitter: 0, negativeTtl: 1 } }, maxLifetime: 2 }).maxLifetimeMs).toBe(2000);
    expect(resolveOptions({ models: { User: { ttl: 10, jitter: 0.1 } }, negativeTtl: 5 }).maxLifetimeMs).toBe(11_000);
  });

  it("accepts the bounds themselves, and every resulting millisecond value Redis sees is an integer", () => {
    const resolved = resolveOptions({ models: { User: true }, ttl: MAX_LIFETIME_S, swr: MAX_LIFETIME_S, jitter: 0.1, queryStats: { flushInterval: MAX_TIMER_MS, halfLife: 1.00001 }, lockTtl: MAX_TIMER_MS });
    expect(Number.isSafeInteger(resolved.maxLifetimeMs)).toBe(true);
    expect(Number.isSafeInteger(resolved.queryStats!.halfLifeMs)).toBe(true);
    expect(resolved.lockTtlMs).toBe(MAX_TIMER_MS);
    // Outside probe 239: a maxAge of 1e-6 s made every build fail (PEXPIRE refuses a fraction).
    expect(resolveOptions({ models: { User: { bloom: { maxAge: 1e-6, errorRate: MIN_BLOOM_ERROR_RATE } } } }).models.get("User")!.bloom).toEqual({ maxAgeMs: 1, errorRate: MIN_BLOOM_ERROR_RATE });
  });
});

describe("fitLifetime", () => {
  it("keeps lifetimes within the bound, in whole milliseconds, and says when it clamped", () => {
    expect(fitLifetime(10_000, 5_000, 0.1, 33_000)).toEqual({ ttlMs: 10_000, swrMs: 5_000, clamped: false });
    expect(fitLifetime(330_000, 0, 0.1, 330_000)).toEqual({ ttlMs: 300_000, swrMs: 0, clamped: true });
    expect(fitLifetime(1e12, 1e12, 0, 60_000)).toEqual({ ttlMs: 60_000, swrMs: 0, clamped: true });
    expect(fitLifetime(50_000, 20_000, 0, 60_000)).toEqual({ ttlMs: 50_000, swrMs: 10_000, clamped: true });
    const fitted = fitLifetime(0.3 * 1000, 0.1 * 1000 + 0.2 * 1000, 0.1, 1_000);
    expect(Number.isInteger(fitted.ttlMs) && Number.isInteger(fitted.swrMs)).toBe(true);
  });

  it("keeps ttl 0 with an swr window (stored stale at once), and at least 1 ms without one", () => {
    expect(fitLifetime(0, 60_000, 0, 86_400_000)).toEqual({ ttlMs: 0, swrMs: 60_000, clamped: false });
    expect(fitLifetime(0, 0, 0, 86_400_000)).toEqual({ ttlMs: 1, swrMs: 0, clamped: false });
  });
});
