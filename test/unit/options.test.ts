import { describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/errors.ts";
import { checkModelNames, resolveOptions } from "../../src/options.ts";
import type { CacheExtensionOptions } from "../../src/types.ts";

function optionAtFault(options: unknown): string {
  try {
    resolveOptions(options as CacheExtensionOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigError);
    expect((error as CacheConfigError).code).toBe("E_INVALID_OPTION");
    return (error as CacheConfigError).option;
  }
  throw new Error("expected a CacheConfigError");
}

describe("resolveOptions", () => {
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
    expect(optionAtFault({ models: { User: true }, l1: { maxEntries: 0 } })).toBe("l1.maxEntries");
    expect(optionAtFault({ models: { User: true }, l1: { size: 1 } })).toBe("l1.size");
    expect(optionAtFault({ models: { User: true }, clock: 5 })).toBe("clock");
    expect(optionAtFault({ models: { User: true }, onError: "log" })).toBe("onError");
  });

  it("rejects model names the schema does not have", () => {
    const resolved = resolveOptions({ models: { User: true, Usr: true } });
    expect(() => checkModelNames(resolved.models, ["User", "Post"])).toThrow(CacheConfigError);
    expect(() => checkModelNames(resolved.models, ["User", "Post"])).toThrow(/models\.Usr/);
  });
});
