import { describe, expect, it } from "vitest";
import { CacheArgumentError } from "../../src/errors.ts";
import { checkTags, strategyToCacheArgs, toCacheOption } from "../../src/prisma/accelerate-strategy.ts";

describe("cacheStrategy → the cache option", () => {
  it("maps ttl, swr and tags; a missing lifetime is 0, as in Accelerate", () => {
    expect(toCacheOption({ ttl: 60, swr: 30, tags: ["a_1"] })).toEqual({ ttl: 60, swr: 30, tags: ["a_1"] });
    expect(toCacheOption({ ttl: 60 })).toEqual({ ttl: 60, swr: 0 });
    expect(toCacheOption({ swr: 60 })).toEqual({ ttl: 0, swr: 60 });
  });

  it("caches nothing without a strategy, or with neither ttl nor swr", () => {
    expect(toCacheOption(undefined)).toBe(false);
    expect(toCacheOption({})).toBe(false);
    expect(toCacheOption({ ttl: 0, swr: 0 })).toBe(false);
    expect(toCacheOption({ tags: ["only_tags"] })).toBe(false);
  });

  it("opts queries in: no cacheStrategy means `cache: false`", () => {
    expect(strategyToCacheArgs(undefined, 100)).toEqual({ args: { cache: false }, ttl: 0 });
    expect(strategyToCacheArgs({ where: { id: 1 } }, 100)).toEqual({ args: { where: { id: 1 }, cache: false }, ttl: 0 });
    expect(strategyToCacheArgs({ where: { id: 1 }, cacheStrategy: { ttl: 5 } }, 100)).toEqual({ args: { where: { id: 1 }, cache: { ttl: 5, swr: 0 } }, ttl: 5 });
  });

  it("bounds ttl + swr by maxLifetime", () => {
    expect(() => strategyToCacheArgs({ cacheStrategy: { ttl: 60, swr: 40 } }, 100)).not.toThrow();
    expect(() => strategyToCacheArgs({ cacheStrategy: { ttl: 60, swr: 41 } }, 100)).toThrow(expect.objectContaining({ argument: "cacheStrategy.ttl" }));
  });

  it("names the argument at fault", () => {
    const fault = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(CacheArgumentError);
        return (error as CacheArgumentError).argument;
      }
      throw new Error("expected a CacheArgumentError");
    };
    expect(fault(() => toCacheOption(60))).toBe("cacheStrategy");
    expect(fault(() => toCacheOption({ ttl: -1 }))).toBe("cacheStrategy.ttl");
    expect(fault(() => toCacheOption({ swr: 0.5 }))).toBe("cacheStrategy.swr");
    expect(fault(() => toCacheOption({ ttl: 1, tags: "a" }))).toBe("cacheStrategy.tags");
    expect(fault(() => toCacheOption({ ttl: 1, tags: ["a", "b", "c", "d", "e", "f"] }))).toBe("cacheStrategy.tags");
    expect(fault(() => toCacheOption({ ttl: 1, tags: ["a", "é"] }))).toBe("cacheStrategy.tags[1]");
    expect(fault(() => toCacheOption({ ttl: 1, tags: ["x".repeat(65)] }))).toBe("cacheStrategy.tags[0]");
    expect(fault(() => toCacheOption({ ttl: 1, extra: true }))).toBe("cacheStrategy.extra");
    expect(fault(() => strategyToCacheArgs({ cache: false }, 100))).toBe("cache");
    expect(fault(() => checkTags([], "tags", 1))).toBe("tags");
  });

  it("accepts Accelerate's limits exactly: 5 tags of up to 64 letters, digits and underscores", () => {
    expect(checkTags(["a", "B", "c_3", "D4", "x".repeat(64)], "tags", 1)).toHaveLength(5);
  });
});
