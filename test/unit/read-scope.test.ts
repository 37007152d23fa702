import { describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/index.ts";
import { cacheVariant } from "../../src/key/cache-variant.ts";
import { canonicalize } from "../../src/key/canonical.ts";
import { clientFreeKey, deriveKey, keyScope, MAX_INLINE_ARGS, withoutReadScope } from "../../src/key/derive-key.ts";
import { readScope } from "../../src/key/read-scope.ts";

const scope = { namespace: "shop", fingerprint: "abc", client: "c1" };
const read = { model: "Post", operation: "findMany", args: undefined };

describe("a read's scope in its key", () => {
  const scopes = [undefined, "", "a", 'a"', "a:b", "~", '\\"', "s", "c{"];

  it("never makes one read's key equal another's, whatever the scopes, cache options and arguments", () => {
    const argsOf = [{}, { where: { id: 1 } }, { where: { email: 's"x' } }, { where: { email: "x".repeat(MAX_INLINE_ARGS) } }];
    const options = [undefined, { ttl: 5 }, { tags: ['s"a"'] }];
    const keys = new Map<string, string>();
    for (const args of argsOf) {
      for (const readScope of scopes) {
        for (const option of options) {
          const canonical = (option === undefined ? "" : cacheVariant(option)) + canonicalize(args);
          const key = deriveKey(keyScope(scope), "Post", "findMany", canonical, readScope);
          const what = JSON.stringify({ args, readScope, option });
          expect(keys.get(key), `${what} and ${keys.get(key)} share a key`).toBeUndefined();
          keys.set(key, what);
        }
      }
    }
    expect(keys.size).toBe(argsOf.length * scopes.length * 3);
  });

  it("is left out of the key query statistics count a read under, hashed arguments too", () => {
    for (const args of ['{"id":n1}', `{"email":"${"x".repeat(MAX_INLINE_ARGS)}"}`]) {
      const unscoped = deriveKey(keyScope(scope), "Post", "findMany", args);
      for (const readScope of scopes) {
        const key = deriveKey(keyScope(scope), "Post", "findMany", args, readScope);
        expect(withoutReadScope("shop:abc.c1", key)).toBe(unscoped);
        expect(clientFreeKey(scope, key)).toBe(clientFreeKey(scope, unscoped));
      }
    }
    // A key of another shape stays as it is.
    expect(withoutReadScope("shop:abc.c1", 'shop:abc.c1~"x:Post:findMany:{}')).toBe('shop:abc.c1~"x:Post:findMany:{}');
  });
});

describe("readScope", () => {
  it("refuses an async scope function whose promise rejects without leaving the rejection unhandled (outside probe 283: the process exited 1)", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      expect(() => readScope(async () => Promise.reject(new Error("no tenant in context")), read)).toThrow(CacheConfigError);
      // A thenable that is no Promise, whose then() misbehaves when called as a Promise's (outside probe 284: a bare TypeError).
      expect(() => readScope(() => ({ then: (resolve: (value: string) => void) => resolve("t1") }), read)).toThrow(CacheConfigError);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });


  it("takes a string of at most 200 characters, a number or undefined, and names the option otherwise", () => {
    expect(readScope(() => "org:1", read)).toBe("org:1");
    expect(readScope(() => undefined, read)).toBeUndefined();
    expect(readScope(() => 42, read)).toBe("42");
    expect(readScope(() => 42n, read)).toBe("42");
    expect(readScope(() => "x".repeat(200), read)).toHaveLength(200);
    for (const [bad, said] of [[NaN, "NaN"], [10n ** 201n, "a bigint of 202 characters"], [null, "null"], [{}, "an object"], ["x".repeat(201), "201 characters"], [Symbol("s"), "a symbol"], [Promise.resolve("org:1"), "a Promise"]] as const) {
      let thrown: unknown;
      try {
        readScope(() => bad, read);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(CacheConfigError);
      expect((thrown as CacheConfigError).option).toBe("scope");
      expect((thrown as Error).message).toContain("Post.findMany");
      expect((thrown as Error).message).toContain(said);
    }
    const own = new Error("no tenant");
    expect(() =>
      readScope(() => {
        throw own;
      }, read),
    ).toThrow(own);
  });
});
