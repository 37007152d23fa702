import { describe, expect, it } from "vitest";
import { uniqueWhereField } from "../../src/key/canonical.ts";
import { KeyInterner } from "../../src/key/key-interner.ts";

describe("KeyInterner", () => {
  it("returns the key stored for a model, operation, field and value, and keeps 1 and '1' apart", () => {
    const keys = new KeyInterner();
    keys.set("User", "findUnique", "id", 1, "key of n1");
    keys.set("User", "findUnique", "id", "1", 'key of "1"');
    expect(keys.get("User", "findUnique", "id", 1)).toBe("key of n1");
    expect(keys.get("User", "findUnique", "id", "1")).toBe('key of "1"');
    expect(keys.get("User", "findFirst", "id", 1)).toBeUndefined();
    expect(keys.get("Post", "findUnique", "id", 1)).toBeUndefined();
    expect(keys.get("User", "findUnique", "email", 1)).toBeUndefined();
  });

  it("never interns -0, which a Map would confuse with 0 (their cache keys differ)", () => {
    const keys = new KeyInterner();
    keys.set("User", "findUnique", "id", -0, "key of n-0");
    expect(keys.get("User", "findUnique", "id", 0)).toBeUndefined();
    keys.set("User", "findUnique", "id", 0, "key of n0");
    expect(keys.get("User", "findUnique", "id", -0)).toBe("key of n0");
  });

  it("never keeps a long string value: it would hold every distinct one (an outside probe: 1 MB per read of a 1 MB filter)", () => {
    const keys = new KeyInterner();
    keys.set("Doc", "findMany", "body", "x".repeat(256), "short enough");
    keys.set("Doc", "findMany", "body", "x".repeat(257), "too long");
    expect(keys.get("Doc", "findMany", "body", "x".repeat(256))).toBe("short enough");
    expect(keys.get("Doc", "findMany", "body", "x".repeat(257))).toBeUndefined();
  });

  it("stays bounded: starts over once 10 000 keys are kept", () => {
    const keys = new KeyInterner();
    for (let id = 0; id < 10_000; id++) keys.set("User", "findUnique", "id", id, `k${id}`);
    expect(keys.get("User", "findUnique", "id", 9_999)).toBe("k9999");
    keys.set("User", "findUnique", "id", 10_000, "k10000");
    expect(keys.get("User", "findUnique", "id", 9_999)).toBeUndefined();
    expect(keys.get("User", "findUnique", "id", 10_000)).toBe("k10000");
  });
});

describe("uniqueWhereField", () => {
  it("names the field of { where: { <field>: <number or string> } } and nothing else", () => {
    expect(uniqueWhereField({ where: { id: 1 } })).toBe("id");
    expect(uniqueWhereField({ where: { email: "a@b.c" } })).toBe("email");
    expect(uniqueWhereField({ where: { id: 1n } })).toBeUndefined();
    expect(uniqueWhereField({ where: { id: 1, email: "a" } })).toBeUndefined();
    expect(uniqueWhereField({ where: { id: 1 }, select: { id: true } })).toBeUndefined();
    expect(uniqueWhereField({ where: Object.assign(Object.create({ inherited: 1 }), { id: 1 }) })).toBeUndefined();
    expect(uniqueWhereField(undefined)).toBeUndefined();
  });
});
