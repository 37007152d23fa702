import type { Identity, ModelGraph } from "./model-graph.js";
import { sha256 } from "../key/hash.js";
import { argumentView, walkRelations } from "./relation-walk.js";

/**
 * Version names. A cached read records the current value of each name it depends on; a write
 * bumps the names it may have changed, which makes every entry that recorded an older value
 * unservable. Names are model-level (g, r), record-level (t) or user tags (u).
 */
export const modelGeneration = (model: string) => `g:${model}`;
/** Bumped by writes that cannot be pinned to identified records (updateMany, deleteMany, ...). */
export const recordGeneration = (model: string) => `r:${model}`;
export const userTag = (tag: string) => `u:${tag}`;

const MAX_TAG_LENGTH = 200;

/** The version name of one record, by one of its identities: `t:User:email=["a@b.c"]`. */
export function identityTag(model: string, identity: Identity, values: readonly unknown[]): string {
  const tag = `t:${model}:${identity.key}=${JSON.stringify(values.map(normalizeIdentityValue))}`;
  return tag.length > MAX_TAG_LENGTH ? `t:${model}:#${sha256(tag)}` : tag;
}

/**
 * Readers and writers see one value in different forms (a Date or its ISO string, a number or
 * a Decimal): map them to one string. Distinct values that map alike only over-invalidate.
 */
function normalizeIdentityValue(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return String(value);
}

export { walkRelations } from "./relation-walk.js";

/** Operations whose top-level `_count` counts the model's own rows, not its relations. */
const ROW_COUNTS = new Set(["aggregate", "groupBy"]);

/** Models a read reaches through relation fields anywhere in its arguments (see walkRelations). */
export function reachedModels(graph: ModelGraph, model: string, args: unknown, operation = "findMany"): Set<string> {
  const reached = new Set<string>([model]);
  const add = (target: string) => reached.add(target);
  if (ROW_COUNTS.has(operation) && typeof args === "object" && args !== null && "_count" in args) {
    const { _count: rowCount, ...rest } = args as Record<string, unknown>;
    walkRelations(graph, model, rest, add, 0);
    if (typeof rowCount === "object") walkRelations(graph, model, rowCount, add, 1);
  } else {
    walkRelations(graph, model, args, add, 0);
  }
  return reached;
}

/** The identity tags a unique `where` names directly. */
export function whereIdentityTags(graph: ModelGraph, model: string, whereArg: unknown): string[] {
  const where = argumentView(whereArg);
  if (typeof where !== "object" || where === null) return [];
  const record = where as Record<string, unknown>;
  const tags: string[] = [];
  for (const identity of graph.model(model)?.identities ?? []) {
    if (identity.fields.length === 1) {
      const value = record[identity.key];
      if (isEqualityValue(value)) tags.push(identityTag(model, identity, [value]));
      continue;
    }
    const compound = record[identity.key];
    if (typeof compound !== "object" || compound === null) continue;
    const values = identity.fields.map((field) => (compound as Record<string, unknown>)[field]);
    if (values.every(isEqualityValue)) tags.push(identityTag(model, identity, values));
  }
  return tags;
}

/** A value used as `field: value` equality, not a filter object such as `{ in: [...] }`. */
function isEqualityValue(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "object") return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto !== Object.prototype && proto !== null && !Array.isArray(value);
}

const UNIQUE_READS = new Set(["findUnique", "findUniqueOrThrow"]);

/**
 * The version names a read depends on. A unique read that reaches no other model depends on
 * its record's identity tag (so writes to other records leave it alone) and on the model's
 * record generation; every other read depends on the generation of each model it reaches.
 */
export function readDependencies(graph: ModelGraph, model: string, operation: string, args: Record<string, unknown> | undefined, tags: readonly string[] = []): string[] {
  const reached = reachedModels(graph, model, args, operation);
  let names: string[];
  const identity = UNIQUE_READS.has(operation) && reached.size === 1 ? whereIdentityTags(graph, model, args?.where)[0] : undefined;
  if (identity !== undefined) names = [recordGeneration(model), identity];
  else names = [...reached].map(modelGeneration);
  for (const tag of tags) names.push(userTag(tag));
  return names;
}
