import { describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/index.ts";
import { cacheVariant } from "../../src/key/cache-variant.ts";
import { canonicalize } from "../../src/key/canonical.ts";
import { readScope, scopeVariant } from "../../src/key/read-scope.ts";

describe("a read's scope in its key", () => {
  it("never makes one read's key equal another's, whatever the scopes, cache options and arguments", () => {
    const argsOf = [{}, { where: { id: 1 } }, { where: { email: 's"x' } }];
    const scopes = [undefined, "", "a", 'a"', "s", "c{", "{}"];
    const options = [undefined, { ttl: 5 }, { tags: ["s\"a\""] }];
    const keys = new Map<string, string>();
    for (const args of argsOf) {
      for (const scope of scopes) {
        for (const option of options) {
          let key = canonicalize(args);
          if (option !== undefined) key = cacheVariant(option) + key;
          if (scope !== undefined) key = scopeVariant(scope) + key;
          const read = JSON.stringify({ args, scope, option });
          expect(keys.get(key), `${read} and ${keys.get(key)} share a key`).toBeUndefined();
          keys.set(key, read);
        }
      }
    }
    expect(keys.size).toBe(argsOf.length * scopes.length * options.length);
  });

  it("takes a string of at most 200 characters or undefined from the scope function, and names the option otherwise", () => {
    expect(readScope(() => "org:1", "Post", "findMany")).toBe("org:1");
    expect(readScope(() => undefined, "Post", "findMany")).toBeUndefined();
    expect(readScope(() => "x".repeat(200), "Post", "findMany")).toHaveLength(200);
    for (const bad of [42, null, {}, "x".repeat(201), Symbol("s")]) {
      let thrown: unknown;
      try {
        readScope(() => bad as never, "Post", "findMany");
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(CacheConfigError);
      expect((thrown as CacheConfigError).option).toBe("scope");
      expect((thrown as Error).message).toContain("Post.findMany");
    }
    const own = new Error("no tenant");
    expect(() => readScope(() => { throw own; }, "Post", "findMany")).toThrow(own);
  });
});
