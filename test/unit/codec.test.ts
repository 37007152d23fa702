import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { Codec, UnencodableValueError } from "../../src/codec/codec.ts";
import { prismaDecimal } from "../../src/prisma/prisma-values.ts";

const codec = new Codec(prismaDecimal);
const roundTrip = (value: unknown) => codec.decode(codec.encode(value));

describe("Codec", () => {
  it("round-trips every Prisma scalar type exactly", () => {
    const row = {
      id: 1,
      email: "a@b.c",
      name: null,
      balance: new Prisma.Decimal("123456789012345.000001"),
      visits: 9007199254740993n,
      score: 0.1 + 0.2,
      active: false,
      avatar: new Uint8Array([0, 1, 254, 255]),
      profile: { a: [1, null, { b: null, c: "x" }], d: true },
      createdAt: new Date("2024-02-29T23:59:59.999Z"),
      role: "ADMIN",
    };
    const back = roundTrip(row) as typeof row;
    expect(back).toEqual(row);
    expect(back.balance).toBeInstanceOf(Prisma.Decimal);
    expect(back.balance.toFixed(6)).toBe("123456789012345.000001");
    expect(back.avatar).toBeInstanceOf(Uint8Array);
    expect(back.createdAt).toBeInstanceOf(Date);
    expect(typeof back.visits).toBe("bigint");
  });

  it("keeps floats JSON cannot carry", () => {
    const back = roundTrip([Number.NaN, Infinity, -Infinity, -0, 0]) as number[];
    expect(back[0]).toBeNaN();
    expect(back.slice(1, 3)).toEqual([Infinity, -Infinity]);
    expect(Object.is(back[3], -0)).toBe(true);
    expect(Object.is(back[4], 0)).toBe(true);
  });

  it("does not mistake user strings for type tags", () => {
    const tricky = ["\u0000D123", "\u0000", "\u0000S", "D123", "\\u0000D1"];
    expect(roundTrip(tricky)).toEqual(tricky);
  });

  it("round-trips aggregate and groupBy shapes", () => {
    const aggregate = { _count: { _all: 3 }, _avg: { balance: new Prisma.Decimal("1.5"), score: null }, _max: { createdAt: new Date(0) } };
    expect(roundTrip(aggregate)).toEqual(aggregate);
    const groups = [{ role: "USER", _sum: { visits: 5n } }];
    expect(roundTrip(groups)).toEqual(groups);
  });

  it("rejects values it has no encoding for instead of corrupting them", () => {
    expect(() => codec.encode({ a: new Map() })).toThrow(UnencodableValueError);
    expect(() => codec.encode({ a: () => 1 })).toThrow(UnencodableValueError);
  });

  it("refuses a value nested too deeply for the stack as unencodable, and hands it on uncopied (outside probe 282)", () => {
    let deep: unknown = [];
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expect(() => codec.encode({ profile: deep })).toThrow(UnencodableValueError);
    const row = { profile: deep };
    expect(codec.clone(row)).toBe(row);
  });

  it("gives back the same classes and keys, or refuses the value: never converts it (outside probe 149's computed fields)", () => {
    const buffer = roundTrip({ b: Buffer.from("b3") }) as { b: Buffer };
    expect(Buffer.isBuffer(buffer.b)).toBe(true);
    expect(buffer.b.toString("base64")).toBe(Buffer.from("b3").toString("base64"));
    expect(Buffer.isBuffer((roundTrip({ u: new Uint8Array([1]) }) as { u: Uint8Array }).u)).toBe(false);
    const withUndefined = roundTrip({ a: undefined, b: 1, list: [undefined, 2] }) as Record<string, unknown>;
    expect(Object.keys(withUndefined)).toEqual(["a", "b", "list"]);
    expect(withUndefined.list).toEqual([undefined, 2]);
    // Another decimal.js class (an app's own copy; Decimal.clone() makes one): it would come back as Prisma's.
    const AppDecimal = Prisma.Decimal.clone({ precision: 40 });
    expect(() => codec.encode({ d: new AppDecimal("1.5") })).toThrow(UnencodableValueError);
    expect(() => codec.encode({ o: Object.assign(Object.create(null), { k: 1 }) })).toThrow(/null-prototype/);
    expect(() => codec.encode({ o: { [Symbol("s")]: 1, k: 1 } })).toThrow(/symbol keys/);
    expect(() => codec.encode({ list: [1, , 3] })).toThrow(/sparse array/);
    class Stamp extends Date {}
    expect(() => codec.encode({ at: new Stamp(0) })).toThrow(UnencodableValueError);
    class Row extends Array {}
    expect(() => codec.encode({ rows: Row.from([1]) })).toThrow(UnencodableValueError);
    expect(() => codec.encode({ half: new Uint16Array([1]) })).toThrow(UnencodableValueError);
  });

  it("takes the Decimal of another copy of Prisma's runtime (a linked checkout: outside probe 151), and decodes Decimals as that copy's from then on", () => {
    // A second copy of the runtime, as an app's generated client resolving another @prisma/client loads it.
    const require = createRequire(import.meta.url);
    const utils = require.resolve("@prisma/client-runtime-utils");
    const kept = require.cache[utils];
    delete require.cache[utils];
    const OtherDecimal = (require(utils) as { Decimal: typeof Prisma.Decimal }).Decimal;
    require.cache[utils] = kept;
    expect(OtherDecimal).not.toBe(Prisma.Decimal);
    const ownCodec = new Codec(prismaDecimal);
    expect(ownCodec.decode(ownCodec.encode({ d: new Prisma.Decimal("1.5") }))).toEqual({ d: new Prisma.Decimal("1.5") });
    const back = ownCodec.decode(ownCodec.encode({ d: new OtherDecimal("2.25") })) as { d: unknown };
    expect(back.d).toBeInstanceOf(OtherDecimal);
    expect(String(back.d)).toBe("2.25");
    // A clone with other settings is still another class.
    expect(() => ownCodec.encode({ d: new (OtherDecimal.clone({ precision: 40 }))("1") })).toThrow(/another class than Prisma's/);
  });

  it("encodes query arguments as Prisma reads them (not exact): undefined members dropped, any decimal.js Decimal taken", () => {
    const lenient = new Codec(prismaDecimal, { exact: false });
    const AppDecimal = Prisma.Decimal.clone();
    const back = lenient.decode(lenient.encode({ where: { id: 1, name: undefined, balance: new AppDecimal("2.5") } })) as { where: Record<string, unknown> };
    expect(Object.keys(back.where)).toEqual(["id", "balance"]);
    expect(back.where.balance).toBeInstanceOf(Prisma.Decimal);
  });

  it("clones what it refuses as it is: null prototypes, symbol keys, holes", () => {
    const symbol = Symbol("s");
    const value = { n: Object.assign(Object.create(null), { k: 1 }), s: { [symbol]: 2 }, list: [1, , 3] };
    const copy = codec.clone(value);
    expect(Object.getPrototypeOf(copy.n)).toBeNull();
    expect(copy.s[symbol]).toBe(2);
    expect(1 in copy.list).toBe(false);
    expect(copy.list.length).toBe(3);
  });

  it("clones deeply, so mutating a result cannot reach the cache", () => {
    const value = { when: new Date(0), bytes: new Uint8Array([1]), list: [{ a: 1 }] };
    const copy = codec.clone(value);
    copy.when.setTime(5);
    copy.bytes[0] = 9;
    copy.list[0]!.a = 2;
    expect(value).toEqual({ when: new Date(0), bytes: new Uint8Array([1]), list: [{ a: 1 }] });
  });

  describe("a Json key named __proto__ stays an own property, as JSON.parse (and Prisma) return it", () => {
    const json = '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}},"nested":[{"__proto__":[1]}]}';
    /** What plain Prisma returns for such a column: JSON.parse's own properties on Object.prototype. */
    const expectLikeParsed = (back: unknown) => {
      const parsed = JSON.parse(json) as Record<string, unknown>;
      const value = back as Record<string, unknown>;
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.keys(value)).toEqual(Object.keys(parsed));
      expect(value.isAdmin).toBeUndefined();
      expect(Object.getOwnPropertyDescriptor(value, "__proto__")?.value).toEqual({ isAdmin: true });
      expect(JSON.stringify(value)).toBe(json);
      const nested = (value.nested as Record<string, unknown>[])[0]!;
      expect(Object.getPrototypeOf(nested)).toBe(Object.prototype);
      expect(Array.isArray(Object.getOwnPropertyDescriptor(nested, "__proto__")?.value)).toBe(true);
    };

    it("through encode and decode", () => expectLikeParsed(roundTrip(JSON.parse(json))));

    it("through decode's reviving walk (the text holds a special value)", () => {
      const back = roundTrip({ profile: JSON.parse(json), when: new Date(0) }) as { profile: unknown };
      expectLikeParsed(back.profile);
    });

    it("through clone", () => expectLikeParsed(codec.clone(JSON.parse(json))));
  });
});
