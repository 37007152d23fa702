import { describe, expect, it } from "vitest";
import { CacheArgumentError } from "../../src/errors.ts";
import { splitCacheOption } from "../../src/prisma/query-args.ts";

describe("the per-query cache option", () => {
  it("allows ttl 0 only with an swr window (stored stale, served while one refresh runs)", () => {
    expect(splitCacheOption({ where: { id: 1 }, cache: { ttl: 0, swr: 30 } })).toEqual({ args: { where: { id: 1 } }, cache: { ttl: 0, swr: 30 } });
    expect(() => splitCacheOption({ cache: { ttl: 0 } })).toThrow(CacheArgumentError);
    expect(() => splitCacheOption({ cache: { ttl: 0, swr: 0 } })).toThrow(/cache\.ttl/);
  });
});
