import { describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { canonicalIdentityValue } from "../../src/invalidation/identity-values.ts";
import { identityTag } from "../../src/invalidation/dependencies.ts";

const same = (kind: Parameters<typeof canonicalIdentityValue>[0], values: unknown[]) => new Set(values.map((value) => canonicalIdentityValue(kind, value)));

describe("identity values: one spelling per value", () => {
  it("UUIDs: case, hyphens and braces", () => {
    const id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    expect(same("uuid", [id, id.toUpperCase(), id.replace(/-/g, ""), `{${id}}`])).toEqual(new Set([id]));
    expect(canonicalIdentityValue("uuid", "not-a-uuid")).toBeUndefined();
  });

  it("instants: a Date, ISO strings with any offset, with or without seconds and milliseconds", () => {
    const canonical = "2024-02-29T12:34:56.000Z";
    expect(same("instant", [new Date(canonical), "2024-02-29T12:34:56Z", "2024-02-29T12:34:56.000Z", "2024-02-29T14:34:56+02:00", "2024-02-29T12:34:56.0Z"])).toEqual(new Set([canonical]));
    // Prisma refuses a time without seconds (its validation error, not "not found": outside probe 99).
    expect(canonicalIdentityValue("instant", "2024-02-29T12:34Z")).toBeUndefined();
    expect(canonicalIdentityValue("instant", "2024-02-29T12:34+02:00")).toBeUndefined();
  });

  it("instants that cannot be known exactly: no offset, sub-millisecond digits, garbage", () => {
    for (const value of ["2024-02-29T12:34:56", "2024-02-29T12:34:56.123456Z", "2024-02-29", "yesterday", new Date(Number.NaN), 1709210096000]) {
      expect(canonicalIdentityValue("instant", value), String(value)).toBeUndefined();
    }
  });

  it("decimals by numeric value: scale, signs, exponents, Prisma.Decimal, numbers", () => {
    expect(same("decimal", ["10.50", "10.5", 10.5, new Prisma.Decimal("10.500"), "+10.5", "1.05e1", "0010.50"])).toEqual(new Set(["105e-1"]));
    expect(same("decimal", ["100", 100, "1e2", "100.00", new Prisma.Decimal(100)])).toEqual(new Set(["1e2"]));
    expect(same("decimal", ["0", "-0", "0.000", 0])).toEqual(new Set(["0"]));
    expect(canonicalIdentityValue("decimal", "-0.25")).toBe("-25e-2");
    for (const value of ["NaN", "Infinity", Number.POSITIVE_INFINITY, "1,5", "", ".", {}]) expect(canonicalIdentityValue("decimal", value), String(value)).toBeUndefined();
  });

  // What Prisma 7 sent to PostgreSQL for each number given for a Decimal (read off its query log;
  // 4 005 random doubles, ties included, agreed with the rule): an integer JavaScript writes without
  // an exponent, within i64's range, as written; any other double rounded to 16 significant
  // digits, a tie to even (outside probe 207: `0.1 + 0.2` was tagged 0.30000000000000004).
  it("numbers for a Decimal, as Prisma sends them", () => {
    const sent: Array<[number, string]> = [
      [0.1 + 0.2, "0.3"],
      [123456.78901234567, "123456.7890123457"],
      [87180.1, "87180.10000000001"],
      [1.0000000000000002, "1"],
      [851947985036781.25, "851947985036781.2"],
      [851947985036781.75, "851947985036781.8"],
      [851947985036780.75, "851947985036780.8"],
      [477210536966564.25, "477210536966564.2"],
      [5e-324, "0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000004940656458412465"],
      [1e21, "1000000000000000000000"],
      [2.5e-7, "0.00000025"],
      [2 ** 63 - 1024, "9223372036854775000"],
      [2 ** 64, "18446744073709550000"],
      [12345678901234567000, "12345678901234570000"],
      [361161034981237950, "361161034981237950"],
      [-18197740817288976, "-18197740817288976"],
      [-0, "0"],
    ];
    for (const [value, text] of sent) expect(canonicalIdentityValue("decimal", value), String(value)).toBe(canonicalIdentityValue("decimal", text));
    expect(canonicalIdentityValue("decimal", 0.1 + 0.2)).not.toBe(canonicalIdentityValue("decimal", "0.30000000000000004"));
  });

  // Read off Prisma 7's query log for a Float column (6 010 doubles, none apart): a whole number
  // beyond i64's range is sent rounded to 16 significant digits (another double), any other number
  // as it is (outside probe 209: `2 ** 64` was tagged 18446744073709552000).
  it("numbers for a Float, as Prisma sends them", () => {
    const sent: Array<[number, number]> = [
      [2 ** 64, 18446744073709550000],
      [2 ** 70, 1180591620717411000000],
      [219709317550936160000, 219709317550936200000],
      [-39223443010894954000, -39223443010894950000],
      [2 ** 63 - 1024, 2 ** 63 - 1024],
      [0.1 + 0.2, 0.1 + 0.2],
      [123456.78901234567, 123456.78901234567],
      [5e-324, 5e-324],
      [-0, 0],
    ];
    for (const [value, stored] of sent) expect(canonicalIdentityValue("float", value), String(value)).toBe(String(stored));
    // Unlike a number for a Decimal, a fraction is not rounded.
    expect(canonicalIdentityValue("float", 1.0000000000000002)).toBe("1.0000000000000002");
  });

  it("Decimal look-alikes by their toFixed(), as Prisma sends them; one whose toFixed() throws has no spelling", () => {
    const like = (text: string) => ({ d: [1], e: 0, s: 1, toFixed: () => text, toString: () => "other" });
    expect(canonicalIdentityValue("decimal", like("10.50"))).toBe("105e-1");
    expect(canonicalIdentityValue("decimal", { d: [1], e: 0, s: 1, toFixed: () => { throw new Error("no"); } })).toBeUndefined();
  });

  it("fixed-width text: trailing blanks do not count, leading ones and case do", () => {
    expect(same("fixed-width", ["AB12", "AB12    ", "AB12 "])).toEqual(new Set(["AB12"]));
    expect(canonicalIdentityValue("fixed-width", " AB12")).toBe(" AB12");
    expect(canonicalIdentityValue("fixed-width", "ab12")).toBe("ab12");
  });

  it("values of the field's type only: what Prisma would reject, convert or truncate has no spelling (the Bloom guard must not answer for it)", () => {
    expect(same("int32", [7, 7.0, -0 + 7])).toEqual(new Set(["7"]));
    expect(canonicalIdentityValue("int32", -0)).toBe("0");
    for (const value of [7.25, Number.NaN, Number.POSITIVE_INFINITY, 1e21, 2 ** 40, 2 ** 31, "7", 7n, null, true]) expect(canonicalIdentityValue("int32", value), String(value)).toBeUndefined();
    expect(canonicalIdentityValue("int32", 2 ** 31 - 1)).toBe("2147483647");
    expect(canonicalIdentityValue("int32", -(2 ** 31))).toBe("-2147483648");
    expect(same("int64", [2 ** 40, 2n ** 40n])).toEqual(new Set([String(2 ** 40)]));
    for (const value of [2 ** 60, 1.5, 2n ** 63n, "5"]) expect(canonicalIdentityValue("int64", value), String(value)).toBeUndefined();
    expect(canonicalIdentityValue("int64", -(2n ** 63n))).toBe("-9223372036854775808");
    expect(canonicalIdentityValue("text", "a@b.c")).toBe("a@b.c");
    for (const value of [5, null, { toString: () => "a" }]) expect(canonicalIdentityValue("text", value), String(value)).toBeUndefined();
    expect(canonicalIdentityValue("float", 1.5)).toBe("1.5");
    expect(canonicalIdentityValue("float", Number.NaN)).toBeUndefined();
    expect(canonicalIdentityValue("boolean", "true")).toBeUndefined();
    expect(canonicalIdentityValue("bytes", Buffer.from("ab"))).toBe(canonicalIdentityValue("bytes", new Uint8Array([97, 98])));
    expect(canonicalIdentityValue("bytes", "YWI=")).toBeUndefined();
    // An enum takes its values' names only: another case or a value's @map name is Prisma's validation error.
    const tier = { enum: ["BRONZE", "GOLD"] };
    expect(canonicalIdentityValue(tier, "GOLD")).toBe("GOLD");
    for (const value of ["gold", "Gold", "PLATINUM", "", 1, null]) expect(canonicalIdentityValue(tier, value), String(value)).toBeUndefined();
  });

  it("text as PostgreSQL stores it: a lone surrogate reads as U+FFFD; NUL has no spelling (PostgreSQL refuses it)", () => {
    expect(same("text", ["x\ud800", "x\ufffd"])).toEqual(new Set(["x\ufffd"]));
    expect(canonicalIdentityValue("text", "a\u0000b")).toBeUndefined();
    expect(canonicalIdentityValue("fixed-width", "AB\udc00  ")).toBe("AB\ufffd");
    expect(canonicalIdentityValue("text", "ünï 🎉")).toBe("ünï 🎉");
  });

  it("values the database rejects have no spelling: impossible dates, year 0, huge exponents, padded decimals, malformed UUIDs", () => {
    for (const value of ["2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "0000-01-01T00:00:00Z", "2024-13-01T00:00:00Z"]) {
      expect(canonicalIdentityValue("instant", value), value).toBeUndefined();
    }
    expect(canonicalIdentityValue("instant", "2024-02-29T23:59:59Z")).toBe("2024-02-29T23:59:59.000Z");
    for (const value of [" 10.5", "10.5 ", "1e99999999999999", "1e131072", "1e-16384", `1.${"0".repeat(16_384)}`, "0e-20000", 100n]) expect(canonicalIdentityValue("decimal", value), String(value).slice(0, 20)).toBeUndefined();
    // PostgreSQL's numeric limits themselves are taken (131 072 digits before the point, 16 383 after).
    for (const value of ["1e131071", "1e-16383", `1.${"0".repeat(16_383)}`]) expect(canonicalIdentityValue("decimal", value), value.slice(0, 20)).toBeDefined();
    // Instants the driver writes with a four-digit year only (outside probe 171).
    for (const value of [new Date("-000100-01-01T00:00:00Z"), new Date(-8.64e15), new Date("+010000-01-01T00:00:00Z"), "9999-12-31T23:59:59.999-14:00", "0001-01-01T00:00:00.000+14:00"]) {
      expect(canonicalIdentityValue("instant", value), String(value)).toBeUndefined();
    }
    for (const value of [new Date("0001-01-01T00:00:00Z"), new Date("9999-12-31T23:59:59.999Z")]) expect(canonicalIdentityValue("instant", value), String(value)).toBeDefined();
    const id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
    for (const value of [`-${id}`, `${id}-`, id.replace("-", "--"), `{${id}`, `${id}}`]) expect(canonicalIdentityValue("uuid", value), value).toBeUndefined();
    expect(canonicalIdentityValue("uuid", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11")).toBe(id);
  });

  it("inexact kinds have no spelling, and then no tag", () => {
    expect(canonicalIdentityValue("inexact", "A@B.C")).toBeUndefined();
    expect(identityTag("Person", { key: "email", fields: ["email"], kinds: ["inexact"] }, ["A@B.C"])).toBeUndefined();
  });

  it("compound tags combine the canonical spellings of their fields", () => {
    const identity = { key: "labelAt", fields: ["label", "at"], kinds: ["text", "instant"] as const };
    expect(identityTag("Event", identity, ["x", "2024-01-01T00:00:00Z"])).toBe(identityTag("Event", identity, ["x", new Date("2024-01-01T00:00:00.000Z")]));
    expect(identityTag("Event", identity, ["X", "2024-01-01T00:00:00Z"])).not.toBe(identityTag("Event", identity, ["x", "2024-01-01T00:00:00Z"]));
  });
});
