import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { CacheArgumentError } from "../../src/errors.ts";
import { splitCacheOption } from "../../src/prisma/query-args.ts";

describe("the per-query cache option", () => {
  it("allows ttl 0 only with an swr window (stored stale, served while one refresh runs)", () => {
    expect(splitCacheOption({ where: { id: 1 }, cache: { ttl: 0, swr: 30 } })).toEqual({ args: { where: { id: 1 } }, cache: { ttl: 0, swr: 30 } });
    expect(() => splitCacheOption({ cache: { ttl: 0 } })).toThrow(CacheArgumentError);
    expect(() => splitCacheOption({ cache: { ttl: 0, swr: 0 } })).toThrow(/cache\.ttl/);
  });

  it("says what it got, its type visible (outside probe 267: a ttl of -1 was refused without it)", () => {
    expect(() => splitCacheOption({ cache: { ttl: -1 } })).toThrow(/cache\.ttl.*got -1$/);
    expect(() => splitCacheOption({ cache: { ttl: "60" } })).toThrow(/got "60"$/);
    expect(() => splitCacheOption({ cache: { swr: 5n } })).toThrow(/got 5n \(a bigint\)$/);
    expect(() => splitCacheOption({ cache: { tags: [1] } })).toThrow(/cache\.tags\[0\].*got 1$/);
    expect(() => splitCacheOption({ cache: "short" })).toThrow(/got "short"$/);
  });

  it("checks every field it uses, as it uses them: getters, inherited and non-enumerable fields (outside probe 123)", () => {
    class Getter {
      get ttl() {
        return "abc";
      }
    }
    expect(() => splitCacheOption({ cache: new Getter() })).toThrow(/cache\.ttl/);
    expect(() => splitCacheOption({ cache: Object.defineProperty({}, "ttl", { value: Number.NaN, enumerable: false }) })).toThrow(/cache\.ttl/);
    expect(() => splitCacheOption({ cache: Object.create({ ttl: -5 }) })).toThrow(/cache\.ttl/);
    expect(() => splitCacheOption({ cache: Object.create({ swr: Number.POSITIVE_INFINITY }) })).toThrow(/cache\.swr/);
    expect(() => splitCacheOption({ cache: Object.create({ colour: 1 }) })).toThrow(/cache\.colour/);
    for (const notOptions of [new Map([["ttl", 1]]), new Date(), new Set(), new Number(5), new Boolean(false), new Uint8Array(0)]) {
      expect(() => splitCacheOption({ cache: notOptions })).toThrow(CacheArgumentError);
    }
  });

  it("refuses a Map, a Date or a Set made in another realm as it refuses this realm's, and takes that realm's plain object (outside probe 149)", () => {
    for (const source of ["new Map([['ttl', 1]])", "new Date()", "new Set()", "new Number(5)", "Promise.resolve()", "new Error('x')"]) {
      expect(() => splitCacheOption({ cache: runInNewContext(source) }), source).toThrow(CacheArgumentError);
    }
    expect(splitCacheOption({ cache: runInNewContext("({ ttl: 5, tags: ['a'] })") }).cache).toEqual({ ttl: 5, tags: ["a"] });
  });

  it("returns a plain copy of what it read: a getter answers once", () => {
    let reads = 0;
    class Options {
      readonly tags = ["a"];
      get ttl() {
        return ++reads === 1 ? 5 : -1;
      }
    }
    const { cache } = splitCacheOption({ cache: new Options() });
    expect(cache).toEqual({ ttl: 5, tags: ["a"] });
    expect(Object.getPrototypeOf(cache)).toBe(Object.prototype);
    expect(reads).toBe(1);
    expect(splitCacheOption({ cache: { ttl: undefined, swr: undefined } }).cache).toEqual({});
  });
});
