import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Decimal } from "@prisma/client/runtime/client";
import { clonePlan, cloneValue, entryCopier } from "../../src/codec/clone-plan.ts";
import { seededRandom } from "../helpers/random.ts";

/** A class instance other than a Decimal: shared, as the cache shares any value it does not know. */
class Money {
  constructor(readonly text: string) {}
}

/** A random value of the kinds query results hold, Json columns included. */
function randomValue(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 8 : 12));
  switch (pick) {
    case 0: return Math.floor(random() * 1000);
    case 1: return random() < 0.5 ? -0 : Number.NaN;
    case 2: return `s${Math.floor(random() * 100)}`;
    case 3: return random() < 0.5 ? null : undefined;
    case 4: return BigInt(Math.floor(random() * 1e6)) * 1_000_000_000n;
    case 5: return new Date(Math.floor(random() * 1e12));
    case 6: return random() < 0.5 ? new Uint8Array([1, 2, Math.floor(random() * 255)]) : Buffer.from([7, 8]);
    case 7: return random() < 0.5 ? new Money(String(random())) : new Decimal(`${random() < 0.5 ? "-" : ""}${Math.floor(random() * 1e6)}.${Math.floor(random() * 1e4)}e${Math.floor(random() * 40) - 20}`);
    case 8: case 9: {
      const object: Record<string, unknown> = random() < 0.1 ? Object.create(null) : {};
      const size = Math.floor(random() * 5);
      for (let i = 0; i < size; i++) object[`k${Math.floor(random() * 6)}`] = randomValue(random, depth + 1);
      return object;
    }
    default: {
      // Arrays of rows of one structure (findMany), and mixed ones (Json).
      const length = Math.floor(random() * 20);
      const row = randomValue(random, depth + 1);
      return Array.from({ length }, () => (random() < 0.7 ? cloneValue(row) : randomValue(random, depth + 1)));
    }
  }
}

/** JSON.stringify's replacer for BigInt members (key order is what the comparison is after). */
const bigints = (_key: string, member: unknown) => (typeof member === "bigint" ? `${member}n` : member);

/** Every mutable part of `copy` is a new object: nothing reaches back into `original`. */
function expectNothingShared(original: unknown, copy: unknown): void {
  if (typeof original !== "object" || original === null) return;
  if (original instanceof Money) return expect(copy).toBe(original);
  expect(copy).not.toBe(original);
  // A Decimal's digits are an array a caller may change (plain Prisma makes a new one per result).
  if (original instanceof Decimal) {
    expect(copy).toBeInstanceOf(Decimal);
    expect((copy as Decimal).toString()).toBe(original.toString());
    return expect((copy as unknown as { d: unknown }).d).not.toBe((original as unknown as { d: unknown }).d);
  }
  if (original instanceof Uint8Array) return;
  for (const key of Object.keys(original)) expectNothingShared((original as Record<string, unknown>)[key], (copy as Record<string, unknown>)[key]);
}

describe("clone plans", () => {
  it("copy 2 000 random results exactly as the generic deep copy does, sharing nothing mutable", () => {
    const random = seededRandom(20261203);
    for (let i = 0; i < 2_000; i++) {
      const value = cloneValue(randomValue(random));
      for (const generate of [true, false]) {
        const copy = clonePlan(value, generate)(value);
        expect(copy).toStrictEqual(cloneValue(value));
        expect(JSON.stringify(copy, bigints)).toBe(JSON.stringify(value, bigints));
        expectNothingShared(value, copy);
        // A Buffer stays a Buffer, with its own memory.
        if (Buffer.isBuffer(value)) expect(Buffer.isBuffer(copy)).toBe(true);
      }
    }
  });

  it("are shared between values of one structure and still copy each value's own members", () => {
    const row = (id: number) => ({ id, at: new Date(id), bytes: new Uint8Array([id]), tags: [`t${id}`], meta: { n: id } });
    const first = [row(1), row(2)];
    const second = [row(3), row(4), row(5)];
    expect(clonePlan(first)).toBe(clonePlan(second));
    const copy = clonePlan(first)(second) as ReturnType<typeof row>[];
    expect(copy).toStrictEqual(second);
    copy[2]!.at.setTime(0);
    copy[2]!.bytes[0] = 0;
    copy[2]!.tags.push("x");
    copy[2]!.meta.n = 0;
    expect(second[2]).toStrictEqual(row(5));
  });

  it("check every element of an array against the plan made from its first", () => {
    // Rows whose later members differ in kind from the first row's: null for a Date, a Date for a string, a missing key.
    const rows = [
      { id: 1, at: new Date(1), note: "a", meta: { n: 1 } },
      { id: 2, at: null, note: "b", meta: { n: 2 } },
      { id: 3, at: new Date(3), note: new Date(3), meta: { n: 3 } },
      { id: 4, note: "d", meta: { n: 4 } },
      { id: 5, at: new Date(5), note: "e", meta: null },
    ];
    for (const value of [rows, [...rows, ...rows, ...rows, ...rows]]) {
      const copy = clonePlan(value)(value);
      expect(copy).toStrictEqual(value);
      expectNothingShared(value, copy);
    }
  });

  it("an entry's copier copies generically for its first uses, then by its plan, alike", () => {
    const value = cloneValue({ rows: [{ at: new Date(7), bytes: Buffer.from([1]) }], n: 1 });
    const copy = entryCopier(value);
    // Generic, then by a plan of spreads, then by generated literals.
    const copies = Array.from({ length: 300 }, () => copy(value));
    for (const each of copies) {
      expect(each).toStrictEqual(value);
      expectNothingShared(value, each);
    }
  });

  it("keep a Json key named __proto__ an own property", () => {
    for (const json of ['{"__proto__":{"isAdmin":true},"a":1}', '{"a":{"__proto__":[1]},"when":"x"}', '[{"__proto__":{"x":1}},{"__proto__":{"x":2}}]']) {
      const value = JSON.parse(json) as unknown;
      const copy = clonePlan(value)(value);
      expect(JSON.stringify(copy)).toBe(json);
      expect(copy).toStrictEqual(value);
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    }
  });
});

describe("clone plans keep what a caller can see of a result", () => {
  it("keep every key's order, integer-like keys included, for rows, lists of rows and large Json objects", () => {
    const wide = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${99 - i}`, i % 3 === 0 ? new Date(i) : i]));
    const values = [
      { b: 1, a: new Date(2), "2": "x", "10": [1], z: { y: 1, x: new Uint8Array([1]) } },
      [{ zeta: 1, alpha: new Date(1) }, { zeta: 2, alpha: new Date(2) }, { zeta: 3, alpha: new Date(3) }],
      { json: wide },
    ];
    for (const [value, generate] of values.flatMap((each) => [[each, true], [each, false]] as const)) {
      const copy = clonePlan(value, generate)(value);
      expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
      expect(copy).toStrictEqual(value);
      expectNothingShared(value, copy);
    }
  });

  it("copy a list whose later rows have other keys, or the same keys in another order, by each row's own keys", () => {
    const rows = [
      { id: 1, at: new Date(1), note: "a" },
      { id: 2, at: new Date(2), note: "b", extra: "kept" },
      { id: 3, note: "c", at: new Date(3) },
      { id: 4, at: new Date(4) },
    ];
    for (const [value, generate] of [rows, [...rows, ...rows, ...rows, ...rows, ...rows]].flatMap((each) => [[each, true], [each, false]] as const)) {
      const copy = clonePlan(value, generate)(value);
      expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
      expect(copy).toStrictEqual(value);
      expectNothingShared(value, copy);
    }
  });

  it("keep keys that are not identifiers, quotes and line separators included, as data", () => {
    const value = { 'a"b': new Date(1), "c\\d": 1, "e\u2028f": [2], "g\nh": { "'": new Date(3) }, "}); globalThis.pwned = 1; ({": 4 };
    const copy = clonePlan(value)(value);
    expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
    expect(copy).toStrictEqual(value);
    expect((globalThis as Record<string, unknown>).pwned).toBeUndefined();
  });
});

describe("clone plans where code may not be generated", () => {
  it("copy by spreads in a process started with --disallow-code-generation-from-strings", () => {
    const module = fileURLToPath(new URL("../../src/codec/clone-plan.ts", import.meta.url));
    const script = `
      import { clonePlan } from ${JSON.stringify(module)};
      const value = [{ b: 1, a: new Date(2), j: { y: [1, new Date(3)] } }, { b: 2, a: new Date(4), j: { y: [2, new Date(5)] } }];
      const copy = clonePlan(value)(value);
      copy[1].a.setTime(0);
      process.stdout.write(JSON.stringify({ copy, original: value }));`;
    const out = execFileSync(process.execPath, ["--disallow-code-generation-from-strings", "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    const { copy, original } = JSON.parse(out) as { copy: unknown[]; original: unknown[] };
    expect(original).toStrictEqual([{ b: 1, a: "1970-01-01T00:00:00.002Z", j: { y: [1, "1970-01-01T00:00:00.003Z"] } }, { b: 2, a: "1970-01-01T00:00:00.004Z", j: { y: [2, "1970-01-01T00:00:00.005Z"] } }]);
    expect(copy).toStrictEqual([original[0], { ...(original[1] as object), a: "1970-01-01T00:00:00.000Z" }]);
  });

  it("copies an entry nested too deeply for a plan generically, every time (outside probe 284: from the 4th use every copy threw)", () => {
    for (const depth of [2_000, 2_500, 3_000]) {
      let deep: Record<string, unknown> = {};
      for (let i = 0; i < depth; i++) deep = { a: deep };
      const copy = entryCopier({ profile: deep });
      for (let use = 0; use < 300; use++) {
        const copied = copy({ profile: deep }) as { profile: Record<string, unknown> };
        let levels = 0;
        for (let level: unknown = copied.profile; typeof level === "object" && level !== null && "a" in level; level = (level as { a: unknown }).a) levels++;
        expect(levels).toBe(depth);
        expect(copied.profile).not.toBe(deep);
      }
    }
  });
});
