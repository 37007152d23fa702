import { skip } from "@prisma/client/runtime/client";
import { describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { snapshotArgs } from "../../src/prisma/args-snapshot.ts";

describe("snapshotArgs", () => {
  it("copies plain objects and arrays deeply, so later changes to the caller's object do not reach it", () => {
    const args = { where: { id: 1, OR: [{ email: "a@x" }] }, select: { id: true } };
    const copy = snapshotArgs(args);
    args.where.id = 2;
    args.where.OR[0]!.email = "b@x";
    args.where.OR.push({ email: "c@x" });
    expect(copy).toEqual({ where: { id: 1, OR: [{ email: "a@x" }] }, select: { id: true } });
  });

  it("copies Dates and byte arrays, keeps Decimals and Prisma's sentinels, and copies null-prototype objects and symbol keys", () => {
    const at = new Date(0);
    const bytes = Buffer.from("ab");
    const view = new Uint8Array([1, 2]);
    const price = new Prisma.Decimal("10.50");
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { id: 4 });
    const marker = Symbol("marker");
    const copy = snapshotArgs({ where: { at, bytes, view, price, json: Prisma.DbNull, skipped: skip, bare, [marker]: 1 } });
    at.setTime(1);
    bytes[0] = 0;
    view[0] = 0;
    expect(copy.where.at).toEqual(new Date(0));
    expect(Buffer.isBuffer(copy.where.bytes) && copy.where.bytes.toString()).toBe("ab");
    // Every view is copied as the bytes Prisma reads from it (a Buffer stays a Buffer).
    expect([...copy.where.view]).toEqual([1, 2]);
    expect(copy.where.price).toBe(price);
    expect(copy.where.json).toBe(Prisma.DbNull);
    expect(copy.where.skipped).toBe(skip);
    expect(copy.where.bare).not.toBe(bare);
    expect(Object.getPrototypeOf(copy.where.bare)).toBe(null);
    expect({ ...copy.where.bare }).toEqual({ id: 4 });
    expect(copy.where[marker]).toBe(1);
    expect(snapshotArgs(undefined)).toBe(undefined);
  });

  it("copies any other Decimal as its toFixed(), read once: a Prisma Decimal when the text reads back the same, else pinned to it (outside probe 207)", () => {
    let reads = 0;
    class Amount {
      readonly d = [0];
      readonly e = 0;
      readonly s = 1;
      constructor(private text: string) {}
      toFixed(): string {
        reads++;
        return this.text;
      }
    }
    const plain = new Amount("10.5");
    const padded = new Amount("10.50");
    const copy = snapshotArgs({ where: { a: plain, b: padded, c: { gt: new Amount("x") } } });
    (plain as unknown as { text: string }).text = "99";
    expect(reads).toBe(3);
    expect(copy.where.a).toBeInstanceOf(Prisma.Decimal);
    expect((copy.where.a as unknown as Prisma.Decimal).toFixed()).toBe("10.5");
    // Prisma would send "10.50" (its toFixed()), which a Decimal writes "10.5": pinned to the text.
    expect(copy.where.b).not.toBeInstanceOf(Prisma.Decimal);
    expect((copy.where.b as unknown as Amount).toFixed()).toBe("10.50");
    expect((copy.where.c.gt as unknown as Amount).toFixed()).toBe("x");
    const throwing = { d: [0], e: 0, s: 1, toFixed: () => { throw new Error("no value"); } };
    expect(snapshotArgs({ where: { price: throwing } }).where.price).toBe(throwing);
  });

  it("copies a caller's class instance (a DTO) as Prisma reads it: enumerable properties, inherited ones too, or its toJSON() result", () => {
    class Base {
      constructor(public tenant: string) {}
    }
    class UserWhere extends Base {
      constructor(public id: number) {
        super("t1");
      }
      get ignored() {
        return "a getter on the prototype: not enumerable, Prisma does not read it";
      }
    }
    class Money {
      constructor(public state: { amount: string }) {}
      toJSON() {
        return this.state;
      }
    }
    const where = new UserWhere(3);
    const money = new Money({ amount: "1.00" });
    const copy = snapshotArgs({ where, data: { price: money } });
    where.id = 4;
    money.state.amount = "2.00";
    expect(copy.where).toEqual({ tenant: "t1", id: 3 });
    expect(Object.getPrototypeOf(copy.where)).toBe(Object.prototype);
    expect(JSON.stringify(copy.data.price)).toBe('{"amount":"1.00"}');
  });

  it("keeps a member named __proto__ an own member, and copies every kind of byte view as the bytes Prisma reads (outside probes 180, 186)", () => {
    const copy = snapshotArgs(JSON.parse('{"where":{"__proto__":{"role":"USER"},"id":1},"data":{"__proto__":{"a":1}}}')) as Record<string, Record<string, unknown>>;
    expect(Object.getPrototypeOf(copy.where)).toBe(Object.prototype);
    expect(Object.keys(copy.where!)).toEqual(["__proto__", "id"]);
    expect((copy.where as { role?: unknown }).role).toBe(undefined);
    expect(Object.getOwnPropertyDescriptor(copy.data, "__proto__")?.value).toEqual({ a: 1 });
    const words = new Uint16Array([1, 2]);
    const view = new DataView(new Uint8Array([3, 4, 5]).buffer, 1, 2);
    const copied = snapshotArgs({ where: { words, view } });
    words[0] = 9;
    new Uint8Array(view.buffer).fill(0);
    expect([...(copied.where.words as unknown as Buffer)]).toEqual([1, 0, 2, 0]);
    expect([...(copied.where.view as unknown as Buffer)]).toEqual([4, 5]);
    // A subclass whose constructor takes other arguments never runs, nor its slice().
    class Hex extends Uint8Array {
      constructor(hex: string) {
        super(Buffer.from(hex, "hex"));
      }
    }
    expect([...(snapshotArgs({ where: { bytes: new Hex("0a0b") } }).where.bytes as unknown as Buffer)]).toEqual([10, 11]);
  });

  it("copies a toJSON() result as the JSON text Prisma's request carries: own members only, each member's toJSON(key) with its name (outside probe 186)", () => {
    const inherited = Object.assign(Object.create({ hidden: 1 }) as object, { a: 1 });
    const copy = snapshotArgs({ data: { meta: { toJSON: () => ({ inner: inherited, keyed: { toJSON: (key: string) => `key=${key}` } }) } } });
    expect(JSON.stringify(copy.data.meta)).toBe('{"inner":{"a":1},"keyed":"key=keyed"}');
  });
  it("copies an argument object with a $type member as the JSON Prisma sends of it, still raw where JSON leaves $type out (outside probes 274, 276)", () => {
    class Inherits {
      id = 1;
    }
    (Inherits.prototype as unknown as { note: number }).note = 2;
    Object.defineProperty(Inherits.prototype, "$type", { get: () => "Order" });
    const forms: object[] = [
      { $type: "Order", id: 1, note: skip },
      Object.assign(Object.create({ $type: "Inherited" }) as object, { id: 1 }),
      { $type: () => "F", id: 1 },
      Object.defineProperty({ id: 1 }, "$type", { value: "Hidden", enumerable: false }),
      new Inherits(),
    ];
    for (const form of forms) {
      const copy = (snapshotArgs({ where: { meta: form } }) as { where: { meta: { $type?: unknown } } }).where.meta;
      expect(JSON.stringify(copy)).toBe(JSON.stringify(form));
      // Prisma sends any object whose $type is truthy as raw JSON.
      expect(Boolean(copy.$type)).toBe(true);
    }
  });
});
