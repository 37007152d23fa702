import { isProxy } from "node:util/types";
import { UnencodableArgsError } from "../errors.js";

/**
 * Returns a stable tag for a class instance the core does not know (Prisma's Decimal, DbNull,
 * field references), or undefined when the value has no canonical form. Supplied by the adapter,
 * so this module stays free of Prisma.
 */
export type SpecialEncoder = (value: object) => string | typeof OMITTED | undefined;

/** What a SpecialEncoder returns for a member Prisma leaves out (`Prisma.skip`): encoded as if absent. */
export const OMITTED = Symbol("omitted");

const MAX_DEPTH = 64;
const OPAQUE_BUILTINS: Function[] = [Map, Set, WeakMap, WeakSet, Promise, RegExp, Error, ArrayBuffer];
/**
 * Objects whose key order shows in the result: Prisma returns the fields of a `select` (and the
 * relations of an `include`), and an aggregate's fields (`_sum: { a, b }`), in the order they were
 * asked for, so `{ id, name }` and `{ name, id }` are different answers (equal values, different
 * `JSON.stringify`) and get different keys. So do the top-level arguments of `aggregate` and
 * `groupBy` (`{ _count, _sum }`): see `canonicalize`'s `orderedRoot`.
 */
const ORDERED_MEMBERS = new Set(["select", "include", "_count", "_sum", "_avg", "_min", "_max"]);
/**
 * Members whose object names fields to select or leave out, at the root and in a relation's
 * selection (see isSelectionSet). Prisma does not drop an undefined member there: it selects
 * `false` (and an `omit`'s undefined overrides the client's global omit), and a misspelt field is
 * refused even when undefined. So such a member is encoded as `false`, never dropped:
 * `select: { id: true, emial: undefined }` must not be answered by the entry of `select: { id: true }`.
 */
const SELECTION_MEMBERS = new Set(["select", "include", "omit", "_count", "_sum", "_avg", "_min", "_max"]);
/**
 * An `aggregate`'s or `groupBy`'s root members that Prisma makes a `select` of: set to `undefined`
 * (or `Prisma.skip`), Prisma refuses the query ("needs at least one truthy value"), where it drops
 * other undefined root members. So they are kept, never answered by the entry of the query without
 * them (outside probe 272: `_avg: wanted ? { price: true } : undefined` was answered by `{ _sum }`'s entry).
 */
const AGGREGATE_MEMBERS = new Set(["_count", "_sum", "_avg", "_min", "_max"]);

/** Whether the object at `trail` is read by its own members, never its toJSON(): the arguments, a selection set, or a relation's selection in one. */
function isSelection(trail: ReadonlyArray<string | number>): boolean {
  return trail.length === 0 || isSelectionSet(trail) || isSelectionSet(trail.slice(0, -1));
}

/**
 * Whether the object at `trail` is a selection set: reached from the root through selection
 * members and relation names only (`select.posts.select`), never through an argument such as
 * `where` (a Json filter `{ equals: { include: … } }` is a value, whose undefined members Prisma drops).
 */
function isSelectionSet(trail: ReadonlyArray<string | number>): boolean {
  if (trail.length % 2 === 0) return false;
  for (let i = 0; i < trail.length; i += 2) if (!SELECTION_MEMBERS.has(trail[i] as string)) return false;
  return true;
}

/**
 * Encodes query arguments as a string that is equal for equal arguments and different for
 * different ones: object key order is ignored (except where the result follows it: `select`,
 * `include`), `undefined` members are dropped (Prisma ignores
 * them too), and every type has its own prefix so `1`, `1n`, `"1"` and a Date never collide.
 * Grammar: N T F | n<number> | b<bigint> | "<json string>" | d<epoch ms> | u<base64> |
 * x"<special tag>" | j<toJSON() result> | [a,b] | {"k":v,...} | U (an undefined aggregate member
 * at the root) | S (`Prisma.skip` where Prisma does not drop it) | r"<raw JSON text>" (see isRawJson).
 */
export function canonicalize(value: unknown, special?: SpecialEncoder, options: CanonicalOptions = {}): string {
  return uniqueWhere(value) ?? encode(value, { special, stack: [], trail: [], ...options });
}

export interface CanonicalOptions {
  /** Keep the key order of the root object (an aggregate's arguments: its result follows it). */
  orderedRoot?: boolean;
  /** An explicit `undefined` member cannot be encoded (Prisma's `strictUndefinedChecks` rejects it, where it otherwise drops it). */
  strictUndefined?: boolean;
}

/**
 * The dominant read, `{ where: { <field>: <number or string> } }` (a findUnique by id), encoded by
 * concatenation: the same text as the generic walk gives (test/unit/canonical.test.ts), without
 * its sort, stack and path bookkeeping on the L1 hit's path. Undefined for any other shape.
 */
function uniqueWhere(value: unknown): string | undefined {
  const field = uniqueWhereField(value);
  if (field === undefined) return undefined;
  const member = (value as { where: Record<string, number | string> }).where[field];
  if (typeof member === "number") return `{"where":{${quote(field)}:${Object.is(member, -0) ? "n-0" : `n${member}`}}}`;
  return `{"where":{${quote(field)}:${quote(member!)}}}`;
}

/**
 * The field of arguments shaped `{ where: { <field>: <number or string> } }` (plain objects, data
 * members), else undefined. Non-enumerable members count against the shape: Prisma reads a
 * non-enumerable `select` or `include` (outside probe 180: such a read was served the full row this
 * shape had cached), and ignores a non-enumerable `where` (outside probe 194: served another read's
 * row). A getter is read once, by the copy of the arguments (probe 194: this shape read it twice).
 */
export function uniqueWhereField(value: unknown): string | undefined {
  // A Proxy may answer a `select` it does not own (outside probe 197: a defaults proxy's select was ignored on L1 hits).
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype || isProxy(value)) return undefined;
  const keys = Object.getOwnPropertyNames(value);
  if (keys.length !== 1 || keys[0] !== "where") return undefined;
  const where = dataMember(value, "where");
  if (typeof where !== "object" || where === null || Object.getPrototypeOf(where) !== Object.prototype || (where as { toJSON?: unknown }).toJSON !== undefined || isProxy(where)) return undefined;
  const fields = Object.keys(where);
  if (fields.length !== 1) return undefined;
  const member = dataMember(where, fields[0]!);
  return typeof member === "number" || typeof member === "string" ? fields[0] : undefined;
}

/** An own enumerable data member's value, else undefined (a getter, a non-enumerable member). */
function dataMember(value: object, key: string): unknown {
  const slot = Object.getOwnPropertyDescriptor(value, key);
  return slot !== undefined && slot.enumerable === true && "value" in slot ? slot.value : undefined;
}

/**
 * The walk's state. `stack` holds the objects being encoded (to catch cycles), `trail` the keys
 * and indices that lead to the current value: an error message names that path, and only an
 * error builds it (building it for every member was a third of an L1 hit's key derivation).
 */
interface Walk extends CanonicalOptions {
  special: SpecialEncoder | undefined;
  stack: object[];
  trail: Array<string | number>;
  /** Inside what a toJSON() returned, which Prisma takes as it is (see encodeConverted). */
  converted?: boolean;
}

/**
 * `JSON.stringify(text)`, without its cost for the common case: a string with nothing to escape
 * (no quote, backslash, control character or surrogate) is quoted as it is. JSON.stringify of a
 * short string costs ~100 ns, a quarter of deriving a `findUnique` key.
 */
export function quote(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(text);
  }
  return `"${text}"`;
}

function pathOf(walk: Walk): string {
  let path = "";
  for (const step of walk.trail) path += typeof step === "number" ? `[${step}]` : path === "" ? step : `.${step}`;
  return path;
}

function encode(value: unknown, walk: Walk): string {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      return Object.is(value, -0) ? "n-0" : `n${value}`;
    case "boolean":
      return value ? "T" : "F";
    case "bigint":
      return `b${value}`;
    case "undefined":
      // Only reachable at the root or inside arrays; object members that are undefined are skipped or tokens of their own.
      return "U";
    case "object":
      return value === null ? "N" : encodeObject(value, walk);
    default:
      throw new UnencodableArgsError(typeof value, pathOf(walk));
  }
}

/**
 * Bytes, by class as well: inside a Json value Prisma writes a Buffer as its toJSON() answers, a
 * DataView as `{}` and other views as base64 (outside probe 192: a Buffer's entry served a
 * Uint8Array's read). As arguments of a Bytes field all read alike; keyed apart, they only share less.
 */
function encodeBytes(view: ArrayBufferView): string {
  const kind = view instanceof Buffer ? "u" : view.constructor === Uint8Array ? "v" : `v${view.constructor.name}:`;
  return `${kind}${Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("base64")}`;
}

function encodeObject(value: object, walk: Walk): string {
  // A Date whose text is pinned (see copyDate) is sent as that text, not as its time.
  if (value instanceof Date) return Object.hasOwn(value, "toISOString") ? `D${JSON.stringify(value.toISOString())}` : `d${value.getTime()}`;
  if (ArrayBuffer.isView(value)) return encodeBytes(value);
  const { stack, trail } = walk;
  if (stack.includes(value)) throw new UnencodableArgsError("cycle", pathOf(walk));
  if (stack.length >= MAX_DEPTH) throw new UnencodableArgsError("nesting deeper than 64", pathOf(walk));
  if (Array.isArray(value)) {
    stack.push(value);
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      trail.push(i);
      // Prisma refuses `Prisma.skip` in an array (outside probe 274: `OR: [{ qty: 1 }, skip]` was answered by `OR: [{ qty: 1 }, {}]`'s entry).
      out += isOmitted(value[i], walk) ? "S" : encode(value[i], walk);
      trail.pop();
    }
    stack.pop();
    return out + "]";
  }
  const proto: unknown = Object.getPrototypeOf(value);
  let keys: string[];
  // What a toJSON() returns is sent with its boxed primitives as the primitives (outside probe 278).
  if (walk.converted === true && isBoxedPrimitive(value)) return encode(value.valueOf(), walk);
  if (proto !== Object.prototype && proto !== null) {
    const tag = walk.special?.(value);
    if (typeof tag === "string") return `x${JSON.stringify(tag)}`;
    // Any other object (a DTO class instance) reaches Prisma as its toJSON() result, or else as
    // its enumerable properties, inherited ones included (Prisma's serializer uses for-in): it
    // means what a plain object with those properties means, and is encoded as one.
    // Built-ins whose content is not enumerable would all read as `{}`: most likely a mistake, so bypass.
    if (OPAQUE_BUILTINS.some((type) => value instanceof type)) throw new UnencodableArgsError(`instance of ${value.constructor?.name ?? "unknown class"}`, pathOf(walk));
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return encodeConverted(toJSON.call(value), value, walk);
    if (walk.converted === true) keys = Object.keys(value);
    else {
      if (isRawJson(value) && !isSelection(trail)) return encodeRawJson(value, walk);
      keys = [];
      for (const key in value) keys.push(key);
    }
  } else {
    // A plain object with a toJSON() (even a non-enumerable one) reaches Prisma as what it returns, like a DTO; a selection never does.
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function" && !isSelection(trail)) return encodeConverted(toJSON.call(value), value, walk);
    if (walk.converted !== true && isRawJson(value) && !isSelection(trail)) return encodeRawJson(value, walk);
    keys = Object.keys(value);
  }
  const record = value as Record<string, unknown>;
  const ordered = trail.length === 0 ? walk.orderedRoot === true && stack.length === 0 : ORDERED_MEMBERS.has(trail[trail.length - 1] as string);
  let selection: boolean | undefined;
  if (keys.length > 1 && !ordered) keys.sort();
  stack.push(value);
  let out = "{";
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined && walk.strictUndefined === true) throw new UnencodableArgsError("explicit undefined (strictUndefinedChecks)", pathOf({ ...walk, trail: [...trail, key] }));
    let token: string | undefined;
    if (member === undefined) {
      if ((selection ??= isSelectionSet(trail))) token = "F";
      else if (trail.length === 0 && AGGREGATE_MEMBERS.has(key)) token = "U";
      else continue;
    } else if (isOmitted(member, walk)) {
      if (walk.converted !== true && !(selection ??= isSelectionSet(trail)) && !(SELECTION_MEMBERS.has(key) && isSelection(trail))) continue;
      token = "S";
    }
    if (!first) out += ",";
    first = false;
    trail.push(key);
    out += quote(key) + ":" + (token ?? encode(member, walk));
    trail.pop();
  }
  stack.pop();
  return out + "}";
}

/**
 * A member Prisma leaves out, as it does undefined ones: a class instance the special encoder calls
 * OMITTED. Not everywhere: a selection member set to `Prisma.skip` (`select: Prisma.skip`, an
 * aggregate's `_max: Prisma.skip`, a count's `omit`) is one Prisma reads as an empty selection and
 * refuses, so there it is encoded (`S`), never dropped (outside probe 272).
 */
function isOmitted(member: unknown, walk: Walk): boolean {
  if (typeof member !== "object" || member === null || walk.special === undefined) return false;
  const proto: unknown = Object.getPrototypeOf(member);
  return proto !== Object.prototype && proto !== null && !Array.isArray(member) && walk.special(member) === OMITTED;
}

/**
 * Whether Prisma sends an argument object as raw JSON: one with a truthy `$type` member (its own
 * tagged values, `{ $type: "Json", value }`), passed on as `JSON.stringify` writes it — own members
 * only, in their order, `Prisma.skip` as `{}` — and not read member by member (outside probe 274).
 */
export function isRawJson(value: object): boolean {
  return Boolean((value as { $type?: unknown }).$type);
}

/** `new Number(1)`, `new String("a")`, `new Boolean(false)`: written by JSON as the primitive they box. */
export function isBoxedPrimitive(value: object): value is Number | String | Boolean {
  return value instanceof Number || value instanceof String || value instanceof Boolean;
}

/** A raw JSON argument (see isRawJson): its JSON text, as Prisma sends it. */
function encodeRawJson(value: object, walk: Walk): string {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    // A BigInt, a cycle: Prisma fails to send it too.
    throw new UnencodableArgsError("raw JSON argument that JSON.stringify refuses", pathOf(walk));
  }
  return `r${JSON.stringify(text)}`;
}

/**
 * The encoding of `converted`, what `original.toJSON()` returned, which Prisma takes as it is: its
 * values keep their types (a Date is not its ISO text, bytes are not an object of numbers: outside
 * probe 277), but class instances in it count by their own members, and a `Prisma.skip` in it is not
 * dropped (outside probe 274). A cycle through toJSON cannot recurse forever.
 */
function encodeConverted(converted: unknown, original: object, walk: Walk): string {
  const outer = walk.converted;
  walk.stack.push(original);
  walk.converted = true;
  try {
    return `j${encode(converted, walk)}`;
  } finally {
    walk.stack.pop();
    walk.converted = outer;
  }
}
