/** Copies one value; a plan is made for one value's structure and used only on values of it. */
export type Copier = (value: unknown) => unknown;

/** A copy of the bytes, of the same class: a Buffer's own `slice()` would share its memory. */
const copyBytes = Uint8Array.prototype.slice;

/** Arrays up to this long get one plan per element when their elements differ in structure. */
const MAX_MIXED_ELEMENTS = 16;
/** Plans kept for reuse across values (one per structure seen); when full, the store starts over. */
const MAX_SHARED_PLANS = 1_000;

/**
 * A deep copy, so a caller that mutates a result cannot change what the cache holds: arrays, plain
 * objects, Dates and Uint8Arrays are copied; other class instances (Decimal) are immutable value
 * types and shared.
 */
export function cloneValue(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneValue(value[i]);
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof Uint8Array) return copyBytes.call(value);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const member = cloneValue((value as Record<string, unknown>)[key]);
    if (key === "__proto__") setOwn(out, key, member);
    else out[key] = member;
  }
  return out;
}

/**
 * `object[key] = value`, except that a `"__proto__"` key (legal in JSON, and an own property
 * after JSON.parse, as Prisma returns it) stays an own property: assigning it would call the
 * `__proto__` setter and turn the value into the object's prototype.
 */
export function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}

/** A plan and the text that names its structure (plans with equal texts copy alike). */
interface Plan {
  signature: string;
  copy: Copier;
}

const SHARED = new Map<string, Copier>();

const keep: Copier = (value) => value;
const KEEP: Plan = { signature: "=", copy: keep };
const DATE: Plan = { signature: "D", copy: (value) => new Date((value as Date).getTime()) };
const BYTES: Plan = { signature: "U", copy: (value) => copyBytes.call(value as Uint8Array) };
const GENERIC: Plan = { signature: "G", copy: cloneValue };

/**
 * A copier specialised to the structure of `value`, which must not change while the copier is
 * used (an L1 entry: made once when it is stored, used on every hit). It copies as cloneValue
 * does, but an object is copied with one spread (`{ ...value }`: V8 copies the whole shape at
 * once) and only its members that need a deep copy are then replaced — where cloneValue adds
 * each property in turn, a third of an L1 hit. Plans are shared between values of one structure.
 */
export function clonePlan(value: unknown): Copier {
  return planOf(value).copy;
}

function planOf(value: unknown): Plan {
  if (typeof value !== "object" || value === null) return KEEP;
  if (Array.isArray(value)) return arrayPlan(value);
  if (value instanceof Date) return DATE;
  if (value instanceof Uint8Array) return BYTES;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return KEEP;
  return objectPlan(value as Record<string, unknown>);
}

function objectPlan(object: Record<string, unknown>): Plan {
  const keys: string[] = [];
  const copiers: Copier[] = [];
  let signature = "{";
  for (const key of Object.keys(object)) {
    const plan = planOf(object[key]);
    if (plan === KEEP) continue;
    // The spread keeps such a key an own property; replacing it by assignment would not.
    if (key === "__proto__") return GENERIC;
    keys.push(key);
    copiers.push(plan.copy);
    signature += `${JSON.stringify(key)}:${plan.signature},`;
  }
  signature += "}";
  return shared(signature, () => {
    if (keys.length === 0) return (value) => ({ ...(value as object) });
    return (value) => {
      const source = value as Record<string, unknown>;
      const out: Record<string, unknown> = { ...source };
      for (let i = 0; i < keys.length; i++) out[keys[i]!] = copiers[i]!(source[keys[i]!]);
      return out;
    };
  });
}

function arrayPlan(array: readonly unknown[]): Plan {
  if (array.length === 0) return shared("[]", () => () => []);
  const plans = array.map(planOf);
  const first = plans[0]!;
  if (plans.every((plan) => plan.signature === first.signature)) {
    const element = first.copy;
    if (first === KEEP) return shared("[*=]", () => (value) => (value as unknown[]).slice());
    return shared(`[*${first.signature}]`, () => (value) => {
      const source = value as unknown[];
      const out = new Array<unknown>(source.length);
      for (let i = 0; i < source.length; i++) out[i] = element(source[i]);
      return out;
    });
  }
  if (array.length > MAX_MIXED_ELEMENTS) return GENERIC;
  const copiers = plans.map((plan) => plan.copy);
  return shared(`[${plans.map((plan) => plan.signature).join(",")}]`, () => (value) => {
    const source = value as unknown[];
    const out = new Array<unknown>(copiers.length);
    for (let i = 0; i < copiers.length; i++) out[i] = copiers[i]!(source[i]);
    return out;
  });
}

/** The plan kept for `signature`, or a new one made by `make` (kept while there is room). */
function shared(signature: string, make: () => Copier): Plan {
  let copy = SHARED.get(signature);
  if (copy === undefined) {
    copy = make();
    // Entries hold their own copiers: starting over costs later values a plan each, nothing else.
    if (SHARED.size >= MAX_SHARED_PLANS) SHARED.clear();
    SHARED.set(signature, copy);
  }
  return { signature, copy };
}
