import { skip } from "@prisma/client/runtime/client";
import { describe, expect, it } from "vitest";
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "../../prisma/generated/client.ts";
import { UnencodableArgsError } from "../../src/errors.ts";
import { canonicalize, quote } from "../../src/key/canonical.ts";
import { encodePrismaArgValue } from "../../src/prisma/prisma-values.ts";

const encode = (value: unknown) => canonicalize(value, encodePrismaArgValue);

describe("canonicalize", () => {
  it("encodes the `{ where: { field: number | string } }` shortcut exactly as the generic walk does (keys are shared with other versions)", () => {
    expect(encode({ where: { id: 5 } })).toBe('{"where":{"id":n5}}');
    const fields = ["id", "email", 'we"ird\\', "ünï", ""];
    const members: unknown[] = [0, -0, 5, -17, 1.5, 1e21, Number.NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, "", "a", 'q"uote\\', "line\nbreak", "ünïcødé 🎉", "\u0000"];
    for (const field of fields) {
      for (const member of members) {
        // An undefined member is dropped by the generic walk, and its presence defeats the shortcut.
        const generic = encode({ where: { [field]: member }, unused: undefined });
        expect(encode({ where: { [field]: member } }), `${field}: ${String(member)}`).toBe(generic);
      }
    }
    // Other shapes are not taken for the shortcut's.
    expect(encode({ where: { id: 5, email: "a" } })).toBe(encode({ where: { email: "a", id: 5 }, unused: undefined }));
    expect(encode({ where: { id: 5n } })).toBe('{"where":{"id":b5}}');
    expect(encode({ where: { id: undefined } })).toBe('{"where":{}}');
  });

  it("ignores object key order at every depth, except in a select or include (the result's fields follow it)", () => {
    const a = { where: { id: 1, email: "a" }, select: { id: true, posts: { where: { b: 1, a: 2 } } } };
    const b = { select: { id: true, posts: { where: { a: 2, b: 1 } } }, where: { email: "a", id: 1 } };
    expect(encode(a)).toBe(encode(b));
    expect(encode({ select: { id: true, name: true } })).not.toBe(encode({ select: { name: true, id: true } }));
    expect(encode({ include: { tags: true, author: true } })).not.toBe(encode({ include: { author: true, tags: true } }));
    expect(encode({ select: { _count: { select: { a: true, b: true } } } })).not.toBe(encode({ select: { _count: { select: { b: true, a: true } } } }));
    expect(encode({ omit: { a: true, b: true } })).toBe(encode({ omit: { b: true, a: true } }));
  });

  it("keeps the key order of aggregates (`_sum: { a, b }`), and of the root when asked (aggregate and groupBy results follow it)", () => {
    for (const aggregate of ["_count", "_sum", "_avg", "_min", "_max"]) {
      expect(encode({ [aggregate]: { a: true, b: true } }), aggregate).not.toBe(encode({ [aggregate]: { b: true, a: true } }));
    }
    const sumFirst = { _sum: { a: true }, _count: true, where: { a: 1 } };
    const countFirst = { _count: true, _sum: { a: true }, where: { a: 1 } };
    expect(encode(sumFirst)).toBe(encode(countFirst));
    const ordered = { orderedRoot: true };
    expect(canonicalize(sumFirst, encodePrismaArgValue, ordered)).not.toBe(canonicalize(countFirst, encodePrismaArgValue, ordered));
    // Below the root, other objects still ignore key order.
    expect(canonicalize({ where: { a: 1, b: 2 } }, encodePrismaArgValue, ordered)).toBe(canonicalize({ where: { b: 2, a: 1 } }, encodePrismaArgValue, ordered));
  });

  it("encodes a member set to Prisma.skip as absent where Prisma drops it, and never as an empty object", () => {
    expect(encode({ include: { posts: skip } })).not.toBe(encode({ include: { posts: {} } }));
    expect(encode({ where: { name: skip, id: 1 } })).toBe(encode({ where: { id: 1 } }));
  });

  it("keeps Prisma.skip where Prisma does not drop it: in an array (refused), in a selection set (omit: { x: skip } undoes a client-wide omit) (outside probe 274)", () => {
    expect(encode({ where: { OR: [{ qty: 1 }, skip] } })).not.toBe(encode({ where: { OR: [{ qty: 1 }, {}] } }));
    expect(encode({ where: { OR: [{ qty: 1 }, skip] } })).not.toBe(encode({ where: { OR: [{ qty: 1 }] } }));
    expect(encode({ omit: { secret: skip } })).not.toBe(encode({ omit: {} }));
    expect(encode({ include: { items: { omit: { note: skip } } } })).not.toBe(encode({ include: { items: { omit: {} } } }));
  });

  it("encodes an argument object with a $type member as the raw JSON Prisma sends of it (outside probe 274)", () => {
    expect(encode({ where: { meta: { equals: { $type: "Order", note: skip } } } })).not.toBe(encode({ where: { meta: { equals: { $type: "Order" } } } }));
    expect(encode({ where: { sku: "s1", $type: skip } })).not.toBe(encode({ where: { sku: "s1" } }));
    // Own members only, as JSON.stringify reads them: an inherited one is not sent.
    class Tagged {
      $type = "Order";
    }
    (Tagged.prototype as unknown as { note: object }).note = {};
    expect(encode({ where: { meta: { equals: new Tagged() } } })).toBe(encode({ where: { meta: { equals: { $type: "Order" } } } }));
    // Not in a selection, which Prisma never sends raw.
    expect(encode({ select: { $type: true, id: true } })).toBe(encode({ select: { $type: true, id: true } }));
  });

  it("keeps a skipped or undefined member where Prisma reads it as an empty selection and refuses the query (outside probe 272)", () => {
    // Prisma refuses these; the entry of the query without the member would have answered them.
    expect(encode({ select: skip, take: 1 })).not.toBe(encode({ take: 1 }));
    expect(encode({ omit: skip })).not.toBe(encode({}));
    expect(encode({ include: { author: { select: skip } } })).not.toBe(encode({ include: { author: {} } }));
    for (const aggregate of ["_count", "_sum", "_avg", "_min", "_max"]) {
      expect(encode({ _sum: { a: true }, [aggregate === "_sum" ? "_avg" : aggregate]: undefined }), aggregate).not.toBe(encode({ _sum: { a: true } }));
      expect(encode({ _sum: { a: true }, [aggregate === "_sum" ? "_avg" : aggregate]: skip }), aggregate).not.toBe(encode({ _sum: { a: true } }));
    }
    // Where Prisma drops them, they are still read as absent.
    expect(encode({ where: undefined, take: 1 })).toBe(encode({ take: 1 }));
    expect(encode({ where: skip, take: 1 })).toBe(encode({ take: 1 }));
  });

  it("with strictUndefined, an explicit undefined member cannot be encoded (Prisma would reject it), naming where it is", () => {
    expect(() => canonicalize({ where: { name: undefined, id: 1 } }, encodePrismaArgValue, { strictUndefined: true })).toThrow(UnencodableArgsError);
    expect(() => canonicalize({ where: { name: undefined, id: 1 } }, encodePrismaArgValue, { strictUndefined: true })).toThrow(/where\.name/);
    expect(canonicalize({ where: { id: 1 } }, encodePrismaArgValue, { strictUndefined: true })).toBe(encode({ where: { id: 1 } }));
  });

  it("keeps array order, which Prisma gives meaning to (orderBy)", () => {
    expect(encode({ orderBy: [{ a: "asc" }, { b: "asc" }] })).not.toBe(encode({ orderBy: [{ b: "asc" }, { a: "asc" }] }));
  });

  it("never lets distinct values of different types collide", () => {
    const date = new Date("2024-01-02T03:04:05.678Z");
    const values: unknown[] = [
      1, 1n, "1", true, "true", null, "null", date, date.toISOString(), date.getTime(),
      new Prisma.Decimal("1"), new Prisma.Decimal("1.5"), "1.5", 1.5, new Uint8Array([1]), [1], { 0: 1 },
      Prisma.DbNull, Prisma.JsonNull, Prisma.AnyNull, "DbNull", -0, 0, Number.NaN, Infinity, "", [], {},
    ];
    const encoded = values.map((value) => encode({ where: { x: value } }));
    expect(new Set(encoded).size).toBe(values.length);
  });

  it("drops undefined members, as Prisma does", () => {
    expect(encode({ where: { id: 1, name: undefined } })).toBe(encode({ where: { id: 1 } }));
  });

  it("cannot be confused by strings that look like the grammar", () => {
    expect(encode({ a: 'n1' })).not.toBe(encode({ a: 1 }));
    expect(encode({ a: '"x"' })).not.toBe(encode({ a: "x" }));
    expect(encode({ 'a":1,"b': 2 })).not.toBe(encode({ a: 1, b: 2 }));
  });

  it("encodes an undefined member of a selection as false, where Prisma selects false (and refuses a misspelt field), not as absent", () => {
    for (const member of ["select", "include", "omit", "_count", "_sum"]) {
      expect(encode({ [member]: { id: true, emial: undefined } })).not.toBe(encode({ [member]: { id: true } }));
      expect(encode({ [member]: { id: true, emial: undefined } })).toBe(encode({ [member]: { id: true, emial: false } }));
    }
    expect(encode({ where: { id: 1, name: undefined } })).toBe(encode({ where: { id: 1 } }));
    expect(encode({ select: { posts: { select: { id: true, titel: undefined } } } })).toBe(encode({ select: { posts: { select: { id: true, titel: false } } } }));
    // A value spelled like a selection (a Json filter) is not one: Prisma drops its undefined members.
    const jsonFilter = (beta: unknown) => encode({ where: { profile: { equals: { include: { beta } } } } });
    expect(jsonFilter(undefined)).not.toBe(jsonFilter(false));
    expect(encode({ select: { posts: { where: { meta: { equals: { select: { a: undefined } } } } } } })).toBe(encode({ select: { posts: { where: { meta: { equals: { select: {} } } } } } }));
  });

  it("encodes a plain object with a toJSON() (even non-enumerable) as what it returns, as Prisma sends it, except where Prisma reads members (the arguments, selections)", () => {
    const where = Object.defineProperty({ id: 1 }, "toJSON", { value: () => ({ id: 2 }), enumerable: false });
    expect(encode({ where, take: 1 })).toBe(encode({ where: new (class { toJSON = () => ({ id: 2 }) })(), take: 1 }));
    expect(encode({ where, take: 1 })).not.toBe(encode({ where: { id: 1 }, take: 1 }));
    const args = Object.defineProperty({ where: { id: 1 } }, "toJSON", { value: () => ({ where: { id: 2 } }), enumerable: false });
    expect(encode(args)).toBe(encode({ where: { id: 1 } }));
  });

  it("encodes field references by model and field, and a DTO with the same data members by its members", () => {
    const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: "postgresql://nobody@127.0.0.1:1/none" }) });
    expect(encode({ where: { name: { equals: client.user.fields.email } } })).toContain("FieldRef:User.email");
    class ProfileFilter {
      constructor(public modelName: string, public name: string, public age: number) {}
    }
    const [one, two] = [1, 2].map((age) => encode({ where: { profile: { equals: new ProfileFilter("User", "email", age) } } }));
    expect(one).not.toContain("FieldRef");
    expect(one).not.toBe(two);
  });

  it("rejects functions, symbols, cycles and unknown classes with a reason", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const reasons = [{ where: { f: () => 1 } }, { where: { s: Symbol("x") } }, cyclic, { where: { m: new Map() } }].map((args) => {
      try {
        encode(args);
        return "encoded";
      } catch (error) {
        expect(error).toBeInstanceOf(UnencodableArgsError);
        return (error as UnencodableArgsError).reason;
      }
    });
    expect(reasons).toEqual(["function", "symbol", "cycle", "instance of Map"]);
  });

  it("encodes a class instance (a DTO) as Prisma reads it: its enumerable properties, inherited ones included", () => {
    class WhereDto {
      constructor(readonly email: string, readonly name?: string) {}
      describe() {
        return this.email;
      }
    }
    class OtherDto {
      constructor(readonly email: string) {}
    }
    const plain = encode({ where: { email: "a@b.c" } });
    expect(encode({ where: new WhereDto("a@b.c") })).toBe(plain);
    expect(encode({ where: new OtherDto("a@b.c") })).toBe(plain);
    expect(encode({ where: new WhereDto("x@b.c") })).not.toBe(plain);
    const inherited = Object.create({ email: "a@b.c" }) as object;
    expect(encode({ where: inherited })).toBe(plain);
  });

  it("encodes an object with toJSON() by what it returns, apart from a plain object", () => {
    const dto = { toJSON: () => ({ email: "a@b.c" }) };
    Object.setPrototypeOf(dto, class Converted {}.prototype);
    expect(encode({ where: dto })).toContain("a@b.c");
    expect(encode({ where: dto })).not.toBe(encode({ where: { email: "a@b.c" } }));
  });

  it("encodes what a toJSON() returns as Prisma takes it: a skipped member kept, inherited members left out, values with their types (outside probes 274, 277)", () => {
    const converted = (result: object) => Object.setPrototypeOf({ toJSON: () => result }, class Converted {}.prototype) as object;
    expect(encode({ where: { meta: converted({ a: 1, b: skip }) } })).not.toBe(encode({ where: { meta: converted({ a: 1 }) } }));
    const inherits = Object.create({ b: 2 }) as Record<string, unknown>;
    inherits.a = 1;
    expect(encode({ where: { meta: converted(inherits) } })).toBe(encode({ where: { meta: converted({ a: 1 }) } }));
    // Its values keep their types, which Prisma tells apart there (outside probe 277: each pair shared an entry).
    const pairs: Array<[unknown, unknown]> = [
      [new Uint8Array([3]), { 0: 3 }],
      [new Date("2024-01-02T03:04:05.000Z"), "2024-01-02T03:04:05.000Z"],
      [new Prisma.Decimal("1"), "1"],
      [new Date(Number.NaN), null],
    ];
    for (const [a, b] of pairs) expect(encode({ where: { meta: converted({ equals: a }) } })).not.toBe(encode({ where: { meta: converted({ equals: b }) } }));
    // Boxed primitives there are sent as the primitives (outside probe 278).
    expect(encode({ where: { meta: converted({ equals: new Number(1) }) } })).toBe(encode({ where: { meta: converted({ equals: 1 }) } }));
    expect(encode({ where: { meta: converted({ equals: new Number(1) }) } })).not.toBe(encode({ where: { meta: converted({ equals: new Number(2) }) } }));
  });

  it("accepts a shared (non-cyclic) sub-object twice", () => {
    const shared = { id: 1 };
    expect(() => encode({ OR: [shared, shared] })).not.toThrow();
  });
});

describe("quote", () => {
  it("spells every string as JSON.stringify does", () => {
    const samples = ["", "id", "user@example.com", 'a"b', "back\\slash", "tab\there", "nul\u0000", "\u001f", "é ü 中文", "emoji 😀", "lone \ud800 high", "lone \udc00 low", "\u2028\u2029", "x".repeat(300)];
    for (const text of samples) expect(quote(text)).toBe(JSON.stringify(text));
  });
});
