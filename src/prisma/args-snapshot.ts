import { createParam, Decimal, isObjectEnumValue } from "@prisma/client/runtime/client";
import { setOwn } from "../codec/clone-plan.js";
import { isDecimalJsLike, isScalarObject } from "../invalidation/relation-walk.js";
import { isBoxedPrimitive, isRawJson } from "../key/canonical.js";
import { encodePrismaArgValue } from "./prisma-values.js";

/**
 * A copy of a query's arguments, read once and the way Prisma reads them. Everything the cache
 * derives from a query (its key, what it depends on, what a write changes) and the query it runs
 * come from this one copy, so they cannot disagree:
 *
 * - A load may run after its caller moved on (a background refresh always does), and callers reuse
 *   one arguments object (`args.where.id = next; await findUnique(args)`): loading with the
 *   caller's object would store the next record's row under this read's key, for the fleet.
 * - A member read twice may answer twice differently (a getter): read once, it cannot.
 * - Prisma reads two kinds of objects two ways (its `serializeJsonQuery`), and so does the copy:
 *   - A *selection* — the arguments themselves, a relation's or `_count`'s object in `select` or
 *     `include`, and an `aggregate`'s or `groupBy`'s `_count`/`_avg`/`_sum`/`_min`/`_max` — by its
 *     own enumerable members, `select` and `include` looked up (inherited ones too). Its `toJSON()`
 *     is never called.
 *   - An *argument value* (inside `where`, `data`, `orderBy`…): a Date, bytes, a Decimal or one of
 *     Prisma's own values (DbNull, field references, `Prisma.skip`, parameters) as such; any other
 *     object with `toJSON()` as what that returns (Prisma takes it as it is: see copyConverted);
 *     else by its enumerable members, inherited ones included (for-in).
 *
 * Plain objects come back as plain objects (null-prototype ones keep a null prototype, and
 * symbol-keyed members, which Prisma ignores, are kept for the extensions below). A member named
 * `__proto__` (own after `JSON.parse`) stays an own member: assigned, it would become the copy's
 * prototype, and Prisma, which drops it from the caller's object, would send its members (outside
 * probe 180: `data: JSON.parse('{"__proto__":{"name":"x"},"rating":7}')` wrote `name`).
 */
export function snapshotArgs<T>(args: T): T {
  return copySelection(args) as T;
}

/**
 * Deeper than this (a `toJSON()` answering an object whose own `toJSON()` answers the first…),
 * a value is handed over as it is: Prisma reads it itself, and the key derivation refuses it.
 */
const MAX_DEPTH = 64;

/** The members of an `aggregate`'s or a `groupBy`'s arguments that Prisma reads as selections (`{ _sum: { price: true } }`). */
const AGGREGATES = new Set(["_count", "_avg", "_sum", "_min", "_max"]);

/** The arguments of a query, or a relation's in `select`/`include`: `{ select, include, ...rest }`, in the caller's order. */
function copySelection(value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value) || depth > MAX_DEPTH) return copyValue(value, depth);
  const record = value as Record<string | symbol, unknown>;
  const copy: Record<string | symbol, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  for (const key of Reflect.ownKeys(value)) {
    if (!Object.getOwnPropertyDescriptor(value, key)!.enumerable && key !== "select" && key !== "include") continue;
    const member = record[key];
    if (key === "select" || key === "include") {
      if (member !== undefined) copy[key] = copySelectionSet(member, depth + 1);
    } else if (key === "omit") copy[key] = copyFlags(member, depth + 1);
    // aggregate's and groupBy's fields to aggregate: Prisma makes each a `select` of its own.
    else setOwn(copy, key, depth === 0 && typeof key === "string" && AGGREGATES.has(key) ? copySelectionSet(member, depth + 1) : copyValue(member, depth + 1));
  }
  // Looked up, not only owned: Prisma destructures them, inherited ones (a class's getter) included.
  for (const key of ["select", "include"] as const) {
    if (key in copy) continue;
    const member = record[key];
    if (member !== undefined) copy[key] = copySelectionSet(member, depth + 1);
  }
  return copy;
}

/** A `select` or `include`: each own member is `true`/`false`, or the selection of a relation (or `_count`). */
function copySelectionSet(value: unknown, depth: number): unknown {
  // `Prisma.skip` passed on as it is (outside probe 272: `_count: Prisma.skip` was sent as `_count: {}`, which Prisma refuses).
  if (typeof value !== "object" || value === null || Array.isArray(value) || isPrismaValue(value)) return copyValue(value, depth);
  const copy: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) setOwn(copy, key, typeof member === "object" && member !== null && !isPrismaValue(member) ? copySelection(member, depth + 1) : member);
  return copy;
}

/**
 * An object Prisma sends as raw JSON (see isRawJson), copied as that JSON reads back: what Prisma
 * sends of it is what it sends of the copy (outside probe 274: inherited members were copied as
 * own ones, and sent). One JSON.stringify refuses is handed over as it is: Prisma refuses it too.
 */
function copyRawJson(value: object): unknown {
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(value));
  } catch {
    return value;
  }
  // A `$type` JSON leaves out (inherited, a getter, non-enumerable, a function) still makes Prisma
  // send the object raw, as JSON without it: kept where JSON does not see it (outside probe 276:
  // dropped, the copy was read member by member and answered where Prisma refuses the query).
  if (typeof copy === "object" && copy !== null && !isRawJson(copy)) Object.defineProperty(copy, "$type", { value: (value as { $type: unknown }).$type });
  return copy;
}

/** An `omit`: own members, each a flag. */
function copyFlags(value: unknown, depth: number): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isPrismaValue(value) ? { ...value } : copyValue(value, depth);
}

/** An argument value, as Prisma's serializer reads it (in its order: scalars and its own values, arrays, then `toJSON()`, then members). */
function copyValue(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => copyValue(item, depth + 1));
  if (value instanceof Date) return copyDate(value);
  // Any view: Prisma takes each as bytes, read when it sends them (outside probe 180: a reused Uint16Array loaded another row under this read's key).
  if (ArrayBuffer.isView(value)) return copyBytes(value);
  if (isDecimalJsLike(value) && !isPrismasDecimal(value)) return copyDecimal(value);
  if (isPrismaValue(value)) return value;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null && isOtherRealmDate(value)) return copyDate(value as Date);
  // Any object's, a plain one's too (even a non-enumerable one): Prisma sends what it returns.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return new ConvertedArgument(copyConverted(toJSON.call(value), depth + 1), value);
  if (isRawJson(value)) return copyRawJson(value);
  if (prototype === Object.prototype || prototype === null) return copyOwnMembers(value, prototype, depth);
  const copy: Record<string, unknown> = {};
  for (const key in value) setOwn(copy, key, copyValue((value as Record<string, unknown>)[key], depth + 1));
  return copy;
}

/**
 * The bytes a view shows, copied the way Prisma reads any view (its `buffer`, `byteOffset` and
 * `byteLength`, whatever its class: a subclass's constructor or `slice()` never runs, and a view
 * past the end of a shrunk buffer shows none; outside probe 186) — into a Buffer for a Buffer, a
 * Uint8Array for any other view: inside a Json value Prisma writes a Buffer as its `toJSON()`
 * answers, any other view as base64 (outside probe 191).
 */
function copyBytes(view: ArrayBufferView): Uint8Array {
  const { buffer, byteOffset, byteLength } = view;
  const bytes = Buffer.from(buffer, byteOffset, byteLength);
  return view instanceof Buffer ? Buffer.from(bytes) : new Uint8Array(bytes);
}

/** Built-in typed array classes, by constructor (a subclass is not one: its constructor may take other arguments). */
const TYPED_ARRAYS = new Set<unknown>([Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array]);

/**
 * A view inside a `toJSON()` result, copied with its class where that is a built-in one: what
 * reads it there tells the classes apart (JSON.stringify writes a DataView as `{}` and refuses a
 * BigInt64Array's elements; outside probe 192). Other classes' bytes, as copyBytes copies them.
 */
function copyViewAsIs(view: ArrayBufferView): ArrayBufferView {
  if (view instanceof Buffer) return copyBytes(view);
  const { buffer, byteOffset, byteLength } = view;
  const bytes = (buffer as ArrayBuffer).slice(byteOffset, byteOffset + byteLength);
  if (view.constructor === DataView) return new DataView(bytes);
  return TYPED_ARRAYS.has(view.constructor) ? new (view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView)(bytes) : copyBytes(view);
}

/**
 * A `toJSON()` result as Prisma handles it: it takes the result as it is, without reading it as
 * arguments (a Date, a Decimal or bytes in it stay what they are), and what reads it later — the
 * query's own walk, JSON.stringify for a Json value — reads objects by their own enumerable members
 * and calls a member's own `toJSON(key)` with its name (outside probe 186: the copy read inherited
 * members too, and wrote fields Prisma drops; outside probe 191: its JSON text instead, a Date
 * filter then matched one row where Prisma's matched every row).
 */
function copyConverted(value: unknown, depth: number, key = ""): unknown {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item, index) => copyConverted(item, depth + 1, String(index)));
  // A Date whose toJSON() is Date's own; another one (a date-only subclass) answers for itself below (outside probe 193).
  const plainDate = (value instanceof Date || isOtherRealmDate(value)) && isDateToJSON((value as { toJSON?: unknown }).toJSON);
  if (plainDate) return copyDate(value as Date);
  if (ArrayBuffer.isView(value)) return copyViewAsIs(value);
  // A boxed primitive is sent as the primitive (outside probe 278: `new Number(1)` was sent as `{}`).
  if (isBoxedPrimitive(value)) return value.valueOf();
  if (!(value instanceof Date) && isPrismaValue(value)) return value;
  // An object with its own toJSON() in the result, at any depth (the result itself too): read as
  // what that returns, once (outside probe 192: a result holding such an object was sent by its members).
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    const converted: unknown = toJSON.call(value, key);
    if (converted !== value) return new ConvertedArgument(copyConverted(converted, depth + 1, key), value);
  }
  const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? Object.create(null) : {};
  for (const member of Object.keys(value)) setOwn(copy, member, copyConverted((value as Record<string, unknown>)[member], depth + 1, member));
  return copy;
}

/** An instance of Prisma's own Decimal class, answering `toFixed()` as the class does: immutable, taken as it is. */
function isPrismasDecimal(value: object): boolean {
  return Object.getPrototypeOf(value) === Decimal.prototype && !Object.prototype.hasOwnProperty.call(value, "toFixed");
}

/**
 * Any other Decimal (another copy of decimal.js, a subclass, a look-alike class: Prisma takes any
 * object with numeric `s` and `e`, an array `d` and a `toFixed()` as a Decimal), as Prisma sends it:
 * its `toFixed()`, read once. As a Prisma Decimal when that reads back as the same text, else
 * pinned to the text. Read by its members, two look-alikes holding their value in a private field
 * had one key, and getters made every value `{}` (outside probe 207: `gt: new Amount("0")` was
 * served the answer cached for `gt: new Amount("10")`).
 */
function copyDecimal(value: { toFixed(): unknown }): object {
  let text: unknown;
  try {
    text = value.toFixed();
  } catch {
    return value; // Prisma's own error, when it reads it
  }
  if (typeof text === "string") {
    try {
      const copy = new Decimal(text);
      if (copy.toFixed() === text) return copy;
    } catch {
      // not a numeral: the database's error, sent as it is below
    }
  }
  return new PinnedDecimal(text);
}

/** A Decimal as Prisma reads one (its shape), answering `toFixed()` with the text its original gave. */
class PinnedDecimal {
  readonly d: number[] = [];
  readonly e = 0;
  readonly s = 1;
  readonly #text: unknown;

  constructor(text: unknown) {
    this.#text = text;
  }

  toFixed(): unknown {
    return this.#text;
  }
}

/**
 * A Date of another realm (a `vm` context, a test runner's outer context), of any class: Prisma
 * takes it as a Date (its check reads the object's tag, before any `toJSON()`) where `instanceof
 * Date` does not; read as an object, an invalid one became its `toJSON()`'s `null` and a write
 * stored NULL where Prisma refuses it (outside probes 194, 197).
 */
function isOtherRealmDate(value: object): boolean {
  if (value instanceof Date || Object.prototype.toString.call(value) !== "[object Date]") return false;
  try {
    Date.prototype.getTime.call(value); // a Date's internal time, whatever its realm; an object only tagged "Date" has none
    return true;
  } catch {
    return false;
  }
}

/** Date's own `toJSON`, of this realm or another (a built-in answers its source as native code). */
function isDateToJSON(toJSON: unknown): boolean {
  return toJSON === Date.prototype.toJSON || (typeof toJSON === "function" && toJSON.name === "toJSON" && /^function toJSON\(\) \{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(toJSON)));
}

/**
 * A Date as Prisma sends it: by its `toISOString()`, which a subclass or an own member may answer
 * otherwise than its time (a start-of-day date). Copied as a plain Date of that instant when the
 * text reads back as one, else with that text pinned (the key derivation then keys by the text).
 */
function copyDate(value: Date): Date {
  // Its own time, whatever its realm or its members say; Prisma refuses an invalid Date before it asks for its text.
  const time = Date.prototype.getTime.call(value);
  if (value.toISOString === Date.prototype.toISOString || Number.isNaN(time)) return new Date(time);
  const text = value.toISOString();
  const plain = new Date(text);
  if (!Number.isNaN(plain.getTime()) && plain.toISOString() === text) return plain;
  const pinned = new Date(time);
  Object.defineProperty(pinned, "toISOString", { value: () => text, enumerable: false });
  return pinned;
}

/**
 * An object's `toJSON()` result, taken when the query started and handed to Prisma the same way.
 * It shows the original's own members (shallow), so a validation error draws the argument as
 * Prisma would have drawn the caller's object.
 */
export class ConvertedArgument {
  readonly #converted: unknown;

  constructor(converted: unknown, original: object) {
    this.#converted = converted;
    for (const key of Reflect.ownKeys(original)) {
      if (!Object.getOwnPropertyDescriptor(original, key)!.enumerable) continue;
      // An own `toJSON` member is part of what Prisma's walk sees in a toJSON() result (a filter
      // `{ toJSON }` it keeps, then writes as what that returns), but the caller's would answer from
      // its object as it is later: one answering the copy stands in for it (outside probe 193:
      // dropped, the filter read as `{}` and matched every row).
      setOwn(this as Record<PropertyKey, unknown>, key, key === "toJSON" ? () => this.#converted : (original as Record<PropertyKey, unknown>)[key]);
    }
  }

  toJSON(): unknown {
    return this.#converted;
  }
}

/** Own enumerable members (symbol keys too) of a plain or null-prototype object, each copied. */
function copyOwnMembers(value: object, prototype: object | null, depth: number): Record<string | symbol, unknown> {
  const copy: Record<string | symbol, unknown> = prototype === null ? Object.create(null) : {};
  for (const key of Reflect.ownKeys(value)) {
    if (!Object.getOwnPropertyDescriptor(value, key)!.enumerable) continue;
    setOwn(copy, key, copyValue((value as Record<string | symbol, unknown>)[key], depth + 1));
  }
  return copy;
}

const Param = createParam("").constructor;

/** Values Prisma recognises before reading an object's members (the scalars left are immutable, or rare views), and Prisma's own. */
function isPrismaValue(value: object): boolean {
  return isScalarObject(value) || value instanceof Param || isObjectEnumValue(value) || encodePrismaArgValue(value) !== undefined || (value as { __prismaRawParameters__?: unknown }).__prismaRawParameters__ === true;
}
