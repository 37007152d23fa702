import type { ModelGraph } from "./model-graph.js";

const MAX_DEPTH = 64;

/**
 * Argument keys that are Prisma operators, not fields. A relation field spelled like one of them
 * (a relation named `is`, `select`, ...) is ambiguous to a walker that does not know the input
 * types, so its member is walked both ways: as the relation and as the operator. Over-reaching
 * costs an extra dependency; under-reaching serves stale data.
 */
const OPERATORS = new Set([
  "AND", "OR", "NOT", "some", "every", "none", "is", "isNot",
  "select", "include", "omit", "where", "orderBy", "cursor", "distinct", "_count", "_relevance",
  "_avg", "_sum", "_min", "_max", "by", "having",
  "data", "create", "createMany", "connect", "connectOrCreate", "update", "updateMany", "upsert",
  "delete", "deleteMany", "set", "disconnect",
]);

/** `from`: the model holding the relation field (`target` is the related one). */
export type OnRelation = (target: string, member: unknown, from: string) => void;

/**
 * Calls `onRelation` for every relation field met while walking `value` in the context of
 * `model`, at any depth: include, select, omit, where (with some/every/none/is/isNot), orderBy,
 * cursor, distinct, `_count` and nested writes. `_count: true` counts every relation of its model,
 * so it reaches them all. Objects are read as Prisma serializes them: any object, class
 * instances (DTOs) included, through its enumerable properties or its `toJSON()`; values Prisma
 * sends as scalars (Date, bytes, Decimal) are not walked. The walk follows the arguments, which
 * are finite, so self-relations and relation cycles need no special care.
 */
export function walkRelations(graph: ModelGraph, model: string, value: unknown, onRelation: OnRelation, depth: number): void {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return;
  if (Array.isArray(value)) {
    for (const item of value) walkRelations(graph, model, item, onRelation, depth + 1);
    return;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null && isScalarObject(value)) return;
  const json = (value as { toJSON?: unknown }).toJSON;
  // Prisma sends what toJSON() returns in place of the object (any object, plain ones too).
  if (typeof json === "function") return walkRelations(graph, model, json.call(value), onRelation, depth + 1);
  walkMembers(graph, model, value as Record<string, unknown>, onRelation, depth);
}

function walkMembers(graph: ModelGraph, model: string, record: Record<string, unknown>, onRelation: OnRelation, depth: number): void {
  const relations = graph.model(model)?.relations;
  // for-in, as Prisma's serializer reads arguments: enumerable properties, inherited ones included.
  for (const key in record) {
    const member = record[key];
    const target = relations?.get(key);
    if (target !== undefined) {
      onRelation(target, member, model);
      walkRelations(graph, target, member, onRelation, depth + 1);
      if (!OPERATORS.has(key)) continue;
    }
    if (key === "_count" && member === true && relations !== undefined) {
      for (const [field, related] of relations) if (field !== key) onRelation(related, true, model);
    }
    walkRelations(graph, model, member, onRelation, depth + 1);
  }
}

/** Values Prisma serializes as one scalar: nothing inside them names a relation. */
export function isScalarObject(value: object): boolean {
  return value instanceof Date || ArrayBuffer.isView(value) || value instanceof ArrayBuffer || isDecimalJsLike(value);
}

/**
 * Decimal.js and Prisma's Decimal, recognised as Prisma does: by shape, across copies of the
 * library and look-alikes (getters count). Prisma sends such a value as its `toFixed()`.
 */
export function isDecimalJsLike(value: unknown): value is { toFixed(): unknown } {
  if (typeof value !== "object" || value === null) return false;
  const decimal = value as { d?: unknown; e?: unknown; s?: unknown; toFixed?: unknown };
  return typeof decimal.s === "number" && typeof decimal.e === "number" && typeof decimal.toFixed === "function" && Array.isArray(decimal.d);
}

/**
 * An argument object as Prisma sends it: the result of its `toJSON()` when it has one (a DTO,
 * Luxon, ...), otherwise itself. Values Prisma sends as scalars are returned as they are.
 */
export function argumentView(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value) || isScalarObject(value)) return value;
  const json = (value as { toJSON?: unknown }).toJSON;
  return typeof json === "function" ? json.call(value) : value;
}

const { getPrototypeOf, hasOwn } = Object;
const isEnumerable = (object: object, key: string) => Object.prototype.propertyIsEnumerable.call(object, key);

/**
 * `object[key]` for a member named by the schema (a field, a unique key), as Prisma reads one: an
 * enumerable property, own or inherited (it walks arguments with for-in; results are own
 * properties), else undefined. A field may be named like a member every object inherits
 * (`constructor`, `toString`, `hasOwnProperty`, `valueOf`): read plainly, an object without it
 * gave Object.prototype's function, taken for the field's value (outside probe 254: a write whose
 * `select` left out a unique field named `constructor` did not invalidate the model's unique reads,
 * which served the old row, and a deleted one, for their ttl).
 */
export function schemaMember(object: object, key: string): unknown {
  const record = object as Record<string, unknown>;
  if (isEnumerable(object, key)) return record[key];
  if (hasOwn(object, key)) return undefined;
  for (let proto: object | null = getPrototypeOf(object) as object | null; proto !== null && proto !== Object.prototype; proto = getPrototypeOf(proto) as object | null) {
    if (hasOwn(proto, key)) return isEnumerable(proto, key) ? record[key] : undefined;
  }
  return undefined;
}
