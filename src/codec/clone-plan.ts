/** Copies one value; a plan is made for one value's structure and used only on values of it. */
export type Copier = (value: unknown) => unknown;

/** Node's `util.inspect.custom`: Prisma's rows with computed fields carry it (how they print); copies do not. */
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** Whether `value` has symbol keys other than `util.inspect.custom`: members JSON and the plans below cannot carry. */
export function hasDataSymbols(value: object): boolean {
  const symbols = Object.getOwnPropertySymbols(value);
  return symbols.length > (symbols.includes(INSPECT) ? 1 : 0);
}

/** A copy of the bytes, of the same class: a Buffer's own `slice()` would share its memory. */
const copyBytes = Uint8Array.prototype.slice;

/** Arrays up to this long get one plan per element when their elements differ in structure. */
const MAX_MIXED_ELEMENTS = 16;
/** Plans kept for reuse across values (one per structure seen); when full, the store starts over. */
const MAX_SHARED_PLANS = 1_000;

/**
 * A deep copy, so a caller that mutates a result cannot change what the cache holds: arrays, plain
 * objects, Dates, Uint8Arrays and Decimals are copied; other class instances are shared (a
 * result holds none: the codec encodes nothing else).
 */
export function cloneValue(value: unknown): unknown {
  return copyValue(value, true);
}

/**
 * cloneValue for a value the codec encoded or decoded (an L1 entry's, an L2 hit's): it has no
 * null prototype, symbol key or hole to look for, and copying a row costs a third less without
 * those checks.
 */
export function copyEncoded(value: unknown): unknown {
  return copyValue(value, false);
}

/** `asLoaded`: keep what the codec refuses (a null prototype, symbol keys, holes), as a loaded value may hold it. */
function copyValue(value: unknown, asLoaded: boolean): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) if (!asLoaded || i in value) out[i] = copyValue(value[i], asLoaded);
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof Uint8Array) return copyBytes.call(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return isDecimal(value) ? copyDecimal(value) : value;
  const out: Record<PropertyKey, unknown> = proto === null && asLoaded ? Object.create(null) : {};
  for (const key in value) {
    const member = copyValue((value as Record<string, unknown>)[key], asLoaded);
    if (key === "__proto__") setOwn(out, key, member);
    else out[key] = member;
  }
  if (asLoaded) for (const symbol of Object.getOwnPropertySymbols(value)) if (symbol !== INSPECT) out[symbol] = copyValue((value as Record<symbol, unknown>)[symbol], true);
  return out;
}

/**
 * `object[key] = value`, except that a `"__proto__"` key (legal in JSON, and an own property
 * after JSON.parse, as Prisma returns it) stays an own property: assigning it would call the
 * `__proto__` setter and turn the value into the object's prototype.
 */
export function setOwn(object: Record<PropertyKey, unknown>, key: PropertyKey, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}

/**
 * A copier for one structure, the text that names it (plans with equal texts copy alike), and a
 * check that a value has that structure (cheaper than planning it: no text, no allocation).
 */
interface Plan {
  signature: string;
  copy: Copier;
  fits: (value: unknown) => boolean;
}

const SHARED = new Map<string, Plan>();

function hasClassPrototype(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto !== Object.prototype && proto !== null;
}

/**
 * A decimal.js instance (Prisma's `Decimal`, whichever copy of decimal.js made it). Its digits are
 * a mutable array (`d`): plain Prisma makes a new Decimal for every result, so the cache copies it
 * too (an outside probe changed `d` in one caller's result and saw every later hit change).
 */
function isDecimal(value: object): boolean {
  const decimalClass = (value as { constructor?: { isDecimal?: unknown } }).constructor;
  return typeof decimalClass?.isDecimal === "function" && (decimalClass.isDecimal as (value: unknown) => boolean)(value);
}

/** decimal.js copies a Decimal given to its constructor exactly: sign, exponent and digits. */
const copyDecimal: Copier = (value) => new (value as { constructor: new (value: unknown) => unknown }).constructor(value);

/** Whether cloneValue would return `value` itself: a primitive or a class instance other than a Decimal. */
function isKept(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  if (Array.isArray(value) || value instanceof Date || value instanceof Uint8Array) return false;
  return hasClassPrototype(value) && !isDecimal(value);
}

/**
 * Whether a plan for an object's keys may copy `value`: a plain object (never a Decimal, whose own
 * keys are `s`, `e`, `d`), and none that cloneValue copies with more than its keys (a null
 * prototype, symbol keys: the codec refuses both, so no L1 entry holds one).
 */
function isPlainObject(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return !hasDataSymbols(value);
}

const KEEP: Plan = { signature: "=", copy: (value) => value, fits: isKept };
const DECIMAL: Plan = { signature: "M", copy: copyDecimal, fits: (value) => typeof value === "object" && value !== null && isDecimal(value) };
const DATE: Plan = { signature: "D", copy: (value) => new Date((value as Date).getTime()), fits: (value) => value instanceof Date };
const BYTES: Plan = { signature: "U", copy: (value) => copyBytes.call(value as Uint8Array), fits: (value) => value instanceof Uint8Array };
const GENERIC: Plan = { signature: "G", copy: cloneValue, fits: () => true };

/**
 * The use of an entry's copier at which its plan is made. Making one costs about five generic
 * copies of a row (about one of a 1 000-row list): an entry hit only a few times is never planned.
 */
const PLAN_AT_USE = 4;
/**
 * The use at which an entry's plan is made again with generated object literals (see
 * literalPlan). Compiling one costs about a hundred spread copies of a row, once per structure
 * (shared by every entry of it); only an entry hit this often pays it before its structure was seen.
 */
const GENERATE_AT_USE = 256;

/**
 * A copier for `value`, which must not change while the copier is used (an L1 entry's value,
 * copied out on every hit). Generic for its first uses, then by a plan of spreads made for the
 * value's structure, then by a plan of generated literals (see clonePlan).
 */
export function entryCopier(value: unknown): Copier {
  let planned: Copier | undefined;
  let uses = 0;
  return (source) => {
    if (uses >= GENERATE_AT_USE) return planned!(source);
    uses++;
    if (uses < PLAN_AT_USE) return copyEncoded(source);
    // A value nested too deeply for a plan's recursion (Json thousands of levels deep) is copied
    // generically for good, found when a plan is built and first run, off the hit's hot path
    // (outside probe 284: from the 4th hit every copy threw).
    try {
      if (uses === PLAN_AT_USE) planned = clonePlan(value, false);
      else if (uses === GENERATE_AT_USE) planned = clonePlan(value);
      return planned!(source);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      planned = copyEncoded;
      uses = GENERATE_AT_USE;
      return copyEncoded(source);
    }
  };
}

/**
 * A copier specialised to the structure of `value`. It copies as cloneValue does, but an object
 * is copied by an object literal generated for its keys (see literalPlan; unless `generate` is
 * false, or the object has too many keys), or with one spread (`{ ...value }`: V8 copies the
 * whole shape at once) whose members that need a deep copy are then replaced — where cloneValue
 * adds each property in turn, a third of an L1 hit. The elements of an array are planned from
 * the first one and checked against it. Plans are shared between values of one structure.
 */
export function clonePlan(value: unknown, generate = LITERALS_ALLOWED): Copier {
  return planOf(value, generate && LITERALS_ALLOWED).copy;
}

function planOf(value: unknown, generate: boolean): Plan {
  if (isKept(value)) return KEEP;
  if (Array.isArray(value)) return arrayPlan(value, generate);
  if (value instanceof Date) return DATE;
  if (value instanceof Uint8Array) return BYTES;
  // Every other class instance was kept (isKept): this one is a Decimal.
  if (hasClassPrototype(value as object)) return DECIMAL;
  if (!isPlainObject(value)) return GENERIC;
  return objectPlan(value as Record<string, unknown>, generate);
}

function objectPlan(object: Record<string, unknown>, generate: boolean): Plan {
  const keys = Object.keys(object);
  if (generate && keys.length <= MAX_LITERAL_KEYS && !keys.includes("__proto__")) return literalPlan(object, keys);
  return spreadPlan(object, generate);
}

/** Objects up to this many keys are copied by a generated object literal; larger ones (Json) by a spread. */
const MAX_LITERAL_KEYS = 64;

/** Whether this process may compile code from text (`node --disallow-code-generation-from-strings` forbids it). */
const LITERALS_ALLOWED = (() => {
  try {
    return new Function("return true")() === true;
  } catch {
    return false;
  }
})();

/**
 * A copier that is one object literal naming every key of the structure, in its order: V8 builds
 * such an object in one allocation with its final shape, and the code is monomorphic for the one
 * structure it serves, where a spread and a loop of replacements are shared by every structure
 * (a third of the copy's time). Keys enter the code only as JSON string literals, which are
 * valid JavaScript string literals, so no key can change what the code does. A value fits only
 * if it has exactly these keys in this order (the literal would drop any other).
 */
function literalPlan(object: Record<string, unknown>, keys: readonly string[]): Plan {
  const plans = keys.map((key) => planOf(object[key], true));
  const signature = `{${keys.map((key, i) => `${JSON.stringify(key)}:${plans[i]!.signature}`).join(",")}}`;
  return shared(signature, () => {
    const copiers: Copier[] = [];
    const members = keys.map((key, i) => {
      const read = `s[${JSON.stringify(key)}]`;
      if (plans[i] === KEEP) return `${JSON.stringify(key)}: ${read}`;
      copiers.push(plans[i]!.copy);
      return `${JSON.stringify(key)}: c[${copiers.length - 1}](${read})`;
    });
    const copy = new Function("c", `"use strict"; return function copy(s) { return { ${members.join(", ")} }; };`)(copiers) as Copier;
    const fits = (value: unknown) => {
      if (!isPlainObject(value)) return false;
      const source = value as Record<string, unknown>;
      const own = Object.keys(source);
      if (own.length !== keys.length) return false;
      for (let i = 0; i < own.length; i++) if (own[i] !== keys[i] || !plans[i]!.fits(source[own[i]!])) return false;
      return true;
    };
    return { copy, fits };
  });
}

/** A copier that spreads the object and replaces the members that need a deep copy (any number of keys, `__proto__` included). */
function spreadPlan(object: Record<string, unknown>, generate: boolean): Plan {
  const keys: string[] = [];
  const plans: Plan[] = [];
  let signature = "{...";
  for (const key of Object.keys(object)) {
    const plan = planOf(object[key], generate);
    if (plan === KEEP) continue;
    // The spread keeps such a key an own property; replacing it by assignment would not.
    if (key === "__proto__") return GENERIC;
    keys.push(key);
    plans.push(plan);
    signature += `${JSON.stringify(key)}:${plan.signature},`;
  }
  signature += "}";
  return shared(signature, () => {
    const copiers = plans.map((plan) => plan.copy);
    const index = new Map(keys.map((key, i) => [key, i]));
    const fits = (value: unknown) => {
      if (!isPlainObject(value)) return false;
      const source = value as Record<string, unknown>;
      let planned = 0;
      for (const key of Object.keys(source)) {
        const at = index.get(key);
        if (at === undefined ? !isKept(source[key]) : !plans[at]!.fits(source[key])) return false;
        if (at !== undefined) planned++;
      }
      return planned === keys.length;
    };
    if (keys.length === 0) return { copy: (value) => ({ ...(value as object) }), fits };
    const copy: Copier = (value) => {
      const source = value as Record<string, unknown>;
      const out: Record<string, unknown> = { ...source };
      for (let i = 0; i < keys.length; i++) out[keys[i]!] = copiers[i]!(source[keys[i]!]);
      return out;
    };
    return { copy, fits };
  });
}

function arrayPlan(array: readonly unknown[], generate: boolean): Plan {
  if (array.length === 0) return shared("[]", () => ({ copy: () => [], fits: (value) => Array.isArray(value) && value.length === 0 }));
  const first = planOf(array[0], generate);
  let uniform = true;
  for (let i = 1; i < array.length && uniform; i++) uniform = first.fits(array[i]);
  if (uniform) {
    const isArrayOf = (value: unknown) => Array.isArray(value) && value.every(first.fits);
    if (first === KEEP) return shared("[*=]", () => ({ copy: (value) => (value as unknown[]).slice(), fits: isArrayOf }));
    const element = first.copy;
    return shared(`[*${first.signature}]`, () => ({
      copy: (value) => {
        const source = value as unknown[];
        const out = new Array<unknown>(source.length);
        for (let i = 0; i < source.length; i++) out[i] = element(source[i]);
        return out;
      },
      fits: isArrayOf,
    }));
  }
  if (array.length > MAX_MIXED_ELEMENTS) return GENERIC;
  const plans = array.map((element) => planOf(element, generate));
  const copiers = plans.map((plan) => plan.copy);
  return shared(`[${plans.map((plan) => plan.signature).join(",")}]`, () => ({
    copy: (value) => {
      const source = value as unknown[];
      const out = new Array<unknown>(copiers.length);
      for (let i = 0; i < copiers.length; i++) out[i] = copiers[i]!(source[i]);
      return out;
    },
    fits: (value) => Array.isArray(value) && value.length === plans.length && plans.every((plan, i) => plan.fits(value[i])),
  }));
}

/** The plan kept for `signature`, or a new one made by `make` (kept while there is room). */
function shared(signature: string, make: () => Omit<Plan, "signature">): Plan {
  let plan = SHARED.get(signature);
  if (plan === undefined) {
    plan = { signature, ...make() };
    // Entries hold their own copiers: starting over costs later values a plan each, nothing else.
    if (SHARED.size >= MAX_SHARED_PLANS) SHARED.clear();
    SHARED.set(signature, plan);
  }
  return plan;
}
