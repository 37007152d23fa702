import { describe, expect, it } from "vitest";
import { cacheVariant } from "../../src/key/cache-variant.ts";
import { clientFreeKey, deriveKey, keyScope, MAX_INLINE_ARGS } from "../../src/key/derive-key.ts";
import { schemaFingerprint } from "../../src/key/fingerprint.ts";
import { canonicalize } from "../../src/key/canonical.ts";
import { sha256 } from "../../src/key/hash.ts";

const scope = { namespace: "shop", fingerprint: "abc" };

describe("deriveKey", () => {
  it("keeps short arguments readable", () => {
    expect(deriveKey(scope, "User", "findUnique", '{"id":n1}')).toBe('shop:abc:User:findUnique:{"id":n1}');
  });

  it("hashes long arguments to a bounded length, distinct inputs to distinct keys", () => {
    const long = (n: number) => `{"in":[${Array.from({ length: 500 }, (_, i) => `n${i + n}`).join(",")}]}`;
    const a = deriveKey(scope, "User", "findMany", long(0));
    const b = deriveKey(scope, "User", "findMany", long(1));
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThan(80);
    expect(a).toMatch(/^shop:abc:User:findMany:#[A-Za-z0-9_-]{43}$/);
    expect(deriveKey(scope, "User", "findMany", long(0))).toBe(a);
  });

  it("switches to the hash just past the inline limit", () => {
    const inline = "x".repeat(MAX_INLINE_ARGS);
    expect(deriveKey(scope, "M", "count", inline).endsWith(inline)).toBe(true);
    expect(deriveKey(scope, "M", "count", inline + "x")).toContain(":#");
  });
});

describe("clientFreeKey", () => {
  it("leaves the client part of the scope out, and nothing else", () => {
    const withClient = { namespace: "shop", fingerprint: "abc", client: "c1" };
    const key = deriveKey(keyScope(withClient), "User", "findUnique", '{"id":n1}');
    expect(key).toBe('shop:abc.c1:User:findUnique:{"id":n1}');
    expect(clientFreeKey(withClient, key)).toBe('shop:abc:User:findUnique:{"id":n1}');
    expect(clientFreeKey({ ...withClient, client: "c2" }, deriveKey(keyScope({ ...withClient, client: "c2" }), "User", "findUnique", '{"id":n1}'))).toBe(clientFreeKey(withClient, key));
    // Without a client part, or a key of another scope: unchanged.
    expect(clientFreeKey(scope, 'shop:abc:User:findUnique:{"id":n1}')).toBe('shop:abc:User:findUnique:{"id":n1}');
    expect(clientFreeKey(withClient, 'shop:other.c1:User:count:{}')).toBe('shop:other.c1:User:count:{}');
  });
});

describe("schemaFingerprint", () => {
  it("is stable and changes when the data model changes", () => {
    const model = { models: { User: { fields: [{ name: "id", kind: "scalar", type: "Int" }] } } };
    const changed = { models: { User: { fields: [{ name: "id", kind: "scalar", type: "BigInt" }] } } };
    expect(schemaFingerprint(model)).toBe(schemaFingerprint(structuredClone(model)));
    expect(schemaFingerprint(model)).not.toBe(schemaFingerprint(changed));
    expect(schemaFingerprint(model)).toMatch(/^[A-Za-z0-9_-]{12}$/);
  });

  it("differs from the fingerprint of the encoding before Buffers and undefined members were tagged (outside probe 151: a rolling deploy's two versions read each other's entries)", () => {
    const model = { models: { User: { fields: [{ name: "id", kind: "scalar", type: "Int" }] } } };
    // The formula of entry format 1, whose keys the older versions still derive.
    expect(schemaFingerprint(model)).not.toBe(sha256(canonicalize(model)).slice(0, 12));
  });
});

describe("keyScope and cacheVariant", () => {
  it("puts the client's identity next to the schema fingerprint, where the census and the CLI expect the fingerprint", () => {
    const key = deriveKey(keyScope({ namespace: "shop", fingerprint: "abc", client: "c1" }), "User", "findMany", "{}");
    expect(key).toBe("shop:abc.c1:User:findMany:{}");
    expect(deriveKey(keyScope({ namespace: "shop", fingerprint: "abc", client: "c2" }), "User", "findMany", "{}")).not.toBe(key);
  });

  it("is empty when the cache option changes nothing, a set of tags otherwise, never an argument encoding", () => {
    expect(cacheVariant({})).toBe("");
    expect(cacheVariant({ tags: [] })).toBe("");
    expect(cacheVariant({ tags: ["b", "a", "a"] })).toBe(cacheVariant({ tags: ["a", "b"] }));
    expect(cacheVariant({ tags: ["a"] })).not.toBe(cacheVariant({ tags: ["b"] }));
    expect(cacheVariant({ ttl: 1 })).not.toBe(cacheVariant({ ttl: 2 }));
    expect(cacheVariant({ ttl: 1 })).not.toBe(cacheVariant({ swr: 1 }));
    expect(cacheVariant({ ttl: 1 }).startsWith("c")).toBe(true);
  });
});
