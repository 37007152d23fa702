import type { Identity, ModelGraph } from "./model-graph.js";
import { canonicalIdentityValue } from "./identity-values.js";
import { sha256 } from "../key/hash.js";
import { argumentView, schemaMember, walkRelations } from "./relation-walk.js";

/** Version names longer than this are hashed (record identities, user tags). */
const MAX_TAG_LENGTH = 200;

/**
 * Version names. A cached read records the current value of each name it depends on; a write
 * bumps the names it may have changed, which makes every entry that recorded an older value
 * unservable. Names are model-level (g, r), record-level (t) or user tags (u).
 */
export const modelGeneration = (model: string) => `g:${model}`;
/** Bumped by writes that cannot be pinned to identified records (updateMany, deleteMany, ...). */
export const recordGeneration = (model: string) => `r:${model}`;
/**
 * A `cache.tags` label's version name. A long label is kept as its hash: names travel in the
 * invalidation messages, which refuse a name over 4 096 characters (outside probe 123: a 4 095-
 * character tag made every instance reject the message), and each is a Redis key.
 */
export const userTag = (tag: string) => (tag.length + 2 > MAX_TAG_LENGTH ? `u:#${sha256(tag)}` : `u:${tag}`);
/**
 * The schema epoch of the clients of one database (`database`: their hashed identity, "-" when
 * unknown). Every entry depends on it: bumped by every write while instances of different schemas
 * on that database share the namespace (a rolling deploy of a schema change), whose reads may
 * depend on names the writer's schema does not have (a renamed field or model, a new unique field
 * or relation).
 */
export const schemaEpoch = (database: string) => `s:${database}`;

/**
 * The version name of one record, by one of its identities: `t:User:email=["a@b.c"]`. Values are
 * spelled canonically for their field's type (UUID case, instants, decimal scale, padding), so a
 * read and a write that name one record in different spellings meet; undefined when a value
 * cannot be spelled exactly (case-insensitive text, …): such reads depend on the model instead.
 */
export function identityTag(model: string, identity: Identity, values: readonly unknown[]): string | undefined {
  const canonical: string[] = [];
  for (const [index, value] of values.entries()) {
    const spelled = canonicalIdentityValue(identity.kinds?.[index] ?? "plain", value);
    if (spelled === undefined) return undefined;
    canonical.push(spelled);
  }
  const tag = `t:${model}:${identity.key}=${JSON.stringify(canonical)}`;
  return tag.length > MAX_TAG_LENGTH ? `t:${model}:#${sha256(tag)}` : tag;
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
  const tags: string[] = [];
  for (const identity of graph.model(model)?.identities ?? []) {
    const values = identityValues(identity, where as Record<string, unknown>);
    const tag = values?.every(isEqualityValue) ? identityTag(model, identity, values) : undefined;
    if (tag !== undefined) tags.push(tag);
  }
  return tags;
}

/** The values a `where` gives for one unique key's fields: `where[key]`, or a compound's members; undefined when a compound is not an object. */
function identityValues(identity: Identity, where: Record<string, unknown>): unknown[] | undefined {
  const member = schemaMember(where, identity.key);
  if (identity.fields.length === 1) return [member];
  if (typeof member !== "object" || member === null) return undefined;
  return identity.fields.map((field) => schemaMember(member, field));
}

/**
 * Whether a unique read's `where` names a record by one of its model's unique keys, with values
 * Prisma takes as they are: a complete compound, each value of its field's type (see takenAsIs).
 * Prisma rejects a `findUnique` that names none, or truncates what it names (`1.5` for an `Int`),
 * except when it batches it with others of one tick, where it answers it like a `findFirst`:
 * cached, such an answer would then answer later calls Prisma answers otherwise. True when the
 * model's unique keys are not known (no schema text).
 */
export function namesUniqueKey(graph: ModelGraph, model: string, whereArg: unknown): boolean {
  const identities = graph.model(model)?.identities ?? [];
  if (identities.length === 0) return true;
  const where = argumentView(whereArg);
  if (typeof where !== "object" || where === null) return false;
  return identities.some((identity) => identityValues(identity, where as Record<string, unknown>)?.every((value, index) => takenAsIs(identity, index, value)) === true);
}

/**
 * Whether Prisma takes a unique field's value as it is: an equality value the cache can spell
 * exactly for the field's type, or, where the cache cannot reproduce the database's equality
 * (citext, …), a plain scalar (not `undefined`, `null`, `Prisma.skip` or a filter).
 */
function takenAsIs(identity: Identity, index: number, value: unknown): boolean {
  const kind = identity.kinds?.[index] ?? "plain";
  if (kind === "inexact" || kind === "plain") return isScalar(value);
  return isEqualityValue(value) && canonicalIdentityValue(kind, value) !== undefined;
}

/**
 * Whether Prisma answers a unique read merged with the other `findUnique` calls of its tick as it
 * answers it alone: it then matches rows to calls by every value of `where`, text by `===`, so the
 * read must name one unique key and nothing else, spelled as stored (outside probe 200: an
 * unpadded `@db.Char(n)` filter beside the unique key answered null, and was stored). True when
 * the model's unique keys are not known (no schema text) and `where` has one member.
 */
export function mergesAsAlone(graph: ModelGraph, model: string, whereArg: unknown): boolean {
  const where = argumentView(whereArg);
  if (typeof where !== "object" || where === null) return false;
  const named = Object.keys(where).filter((key) => (where as Record<string, unknown>)[key] !== undefined);
  if (named.length !== 1) return false;
  const identities = graph.model(model)?.identities ?? [];
  return (identities.length === 0 || identities.some((identity) => identity.key === named[0])) && spelledAsStored(graph, model, where);
}

/**
 * Whether a "not found" answer to a unique read can be kept. Prisma answers `findUnique` calls of
 * one tick with one query and matches its rows to the calls by comparing values in JavaScript,
 * text by `===`: a value the database stores spelled otherwise (an upper-case UUID, an unpadded
 * `@db.Char(n)`, citext in another case) matches no row there, and that call answers `null`
 * though the database holds the record. True when every text value of the read's unique keys is
 * spelled as the database returns it.
 */
export function spelledAsStored(graph: ModelGraph, model: string, whereArg: unknown): boolean {
  const where = argumentView(whereArg);
  if (typeof where !== "object" || where === null) return true;
  for (const identity of graph.model(model)?.identities ?? []) {
    for (const [index, value] of (identityValues(identity, where as Record<string, unknown>) ?? []).entries()) {
      if (typeof value !== "string") continue;
      const kind = identity.kinds?.[index] ?? "plain";
      if (kind === "plain") continue;
      if ((kind !== "text" && kind !== "uuid" && typeof kind !== "object") || canonicalIdentityValue(kind, value) !== value) return false;
    }
  }
  return true;
}

function isScalar(value: unknown): boolean {
  const type = typeof value;
  return type === "string" || type === "number" || type === "bigint" || type === "boolean" || value instanceof Date || value instanceof Uint8Array;
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
 * record generation; every other read depends on the generation of each model it reaches, and
 * of each model those read (a view's underlying tables).
 */
export function readDependencies(graph: ModelGraph, model: string, operation: string, args: Record<string, unknown> | undefined, tags: readonly string[] = []): string[] {
  const reached = reachedModels(graph, model, args, operation);
  const sources = new Set([...reached].flatMap((name) => graph.readSources(name)));
  let names: string[];
  // A self-relation reaches other rows of the model itself, and a declared dependency (itself
  // included: a trigger updating a total row of its own table) changes rows no write names: then
  // the record's tag is not enough.
  const ownRowOnly = UNIQUE_READS.has(operation) && sources.size === 1 && !graph.declaresDependencies(model) && !readsRelation(graph, model, args);
  const identity = ownRowOnly ? whereIdentityTags(graph, model, args?.where)[0] : undefined;
  if (identity !== undefined) names = [recordGeneration(model), identity];
  else names = [...sources].map(modelGeneration);
  for (const tag of tags) names.push(userTag(tag));
  return names;
}

/** Whether a read's arguments name any relation field (include, select, relation filters, orderBy). */
function readsRelation(graph: ModelGraph, model: string, args: unknown): boolean {
  let found = false;
  walkRelations(graph, model, args, () => (found = true), 0);
  return found;
}
