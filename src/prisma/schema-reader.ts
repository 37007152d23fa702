import type { EnumValues, IdentityValueKind } from "../invalidation/identity-values.js";
import { canonicalize } from "../key/canonical.js";
import type { ForeignKeyActions, Identity, ReferentialAction } from "../invalidation/model-graph.js";
import { readSchemaBlocks } from "./schema-blocks.js";
import { rewrittenOnUpdate } from "./generated-columns.js";
import { parseDatamodel, type DmmfEnum, type DmmfField, type DmmfModel } from "./schema-wasm.js";

export interface SchemaModelFacts {
  /** The primary key first: it is the identity writes and reads most often use. */
  identities: Identity[];
  /** Relation field → foreign-key fields on this model, from `@relation(fields: [...])`. */
  foreignKeys: Map<string, string[]>;
  /** Relation field → its referential actions, Prisma's defaults filled in. */
  actions: Map<string, ForeignKeyActions>;
  isView: boolean;
  /** Identity fields an update may change without naming them (see rewrittenOnUpdate). */
  rewrittenOnUpdate: string[];
  /** Scalar and enum field → how its values compare in the database (see identityValueKind). */
  fieldKinds: Map<string, IdentityValueKind>;
}

/**
 * Reads identities, foreign keys, referential actions and views from Prisma schema source with
 * Prisma's own parser. Prisma 7's runtime data model omits all of them, but the client carries
 * the schema text. Throws when the parser rejects the text.
 */
export function readSchemaFacts(schema: string): Map<string, SchemaModelFacts> {
  return readSchema(schema).facts;
}

/**
 * The facts above, and the schema's *shape*, as canonical text: Prisma's parsed data model (models, fields with their
 * ids, uniques, optionality, defaults and referential actions, enums with their values), without
 * documentation comments. The runtime data model the client carries lists names, types and
 * relations only: two schemas that differ in a `@unique`, an `onDelete` or an enum value read
 * alike there (outside probe 189), so the schema fingerprint hashes this shape too.
 */
export function readSchema(schema: string): { facts: Map<string, SchemaModelFacts>; shape: string } {
  const blocks = readSchemaBlocks(schema);
  const facts = new Map<string, SchemaModelFacts>();
  const { models, enums } = parseDatamodel(schema);
  const enumValues = new Map(enums.map((declared) => [declared.name, { enum: declared.values.map((value) => value.name) }] as const));
  for (const model of models) {
    const kinds = new Map(model.fields.map((field) => [field.name, identityValueKind(field, blocks.provider, enumValues)] as const));
    const foreignKeys = new Map<string, string[]>();
    const actions = new Map<string, ForeignKeyActions>();
    for (const field of model.fields) {
      if (field.kind !== "object" || (field.relationFromFields?.length ?? 0) === 0) continue;
      foreignKeys.set(field.name, field.relationFromFields!);
      actions.set(field.name, {
        references: field.relationToFields ?? [],
        // Prisma's defaults: an optional relation sets null on delete, a required one restricts; updates cascade.
        onDelete: referentialAction(field.relationOnDelete) ?? (field.isRequired ? "Restrict" : "SetNull"),
        onUpdate: referentialAction(field.relationOnUpdate) ?? "Cascade",
      });
    }
    const identities = modelIdentities(model).map((identity) => ({ ...identity, kinds: identity.fields.map((field) => kinds.get(field) ?? "inexact") }));
    const identityFields = new Set(identities.flatMap((identity) => identity.fields));
    const rewritten = model.fields.filter((field) => identityFields.has(field.name) && rewrittenOnUpdate(field)).map((field) => field.name);
    const fieldKinds = new Map(model.fields.filter((field) => field.kind !== "object").map((field) => [field.name, kinds.get(field.name)!] as const));
    facts.set(model.name, { identities, foreignKeys, actions, isView: blocks.kinds.get(model.name) === "view", rewrittenOnUpdate: rewritten, fieldKinds });
  }
  // As canonical text: parsed once per schema text (see parsedSchema), hashed at every $extends.
  const views = [...blocks.kinds].filter(([, kind]) => kind === "view").map(([name]) => name);
  const defaultNatives = DEFAULT_NATIVE_TYPES[blocks.provider ?? ""] ?? {};
  return { facts, shape: canonicalize(withoutDocumentation({ models: models.map((model) => withoutRedundantSpellings(model, defaultNatives)), enums: enums.map(enumWithoutRedundantNames), views })) };
}

/**
 * The native type each scalar type has when none is written, by provider: `Int @db.Integer` is
 * `Int` on PostgreSQL (outside probe 197). Providers not listed keep what is written.
 */
const DEFAULT_NATIVE_TYPES: Record<string, Record<string, string>> = {
  postgresql: { String: "Text", Int: "Integer", BigInt: "BigInt", Float: "DoublePrecision", Decimal: "Decimal(65,30)", DateTime: "Timestamp(3)", Boolean: "Boolean", Bytes: "ByteA", Json: "JsonB" },
};

/** An enum without a `@map`/`@@map` naming what a value or the enum is already called (outside probe 197). */
function enumWithoutRedundantNames(declared: DmmfEnum): unknown {
  const { dbName, values, ...rest } = declared as DmmfEnum & { dbName?: string | null };
  return {
    ...rest,
    dbName: dbName === declared.name ? null : (dbName ?? null),
    values: values.map((value) => {
      const { dbName: stored, ...others } = value as { name: string; dbName?: string | null };
      return stored === undefined || stored === null || stored === value.name ? { ...others, dbName: null } : { ...others, dbName: stored };
    }),
  };
}

/**
 * A model as parsed, with spellings that mean the same schema made one: a `@map`/`@@map` naming
 * what the name already is, a one-field `@@id([x])` (Prisma reports it as `x`'s `@id` too), a
 * native type that is the type's default. Outside probes 191, 197: each changed the fingerprint,
 * dropping the fleet's cache at a deploy.
 */
function withoutRedundantSpellings(model: DmmfModel, defaultNatives: Record<string, string>): unknown {
  const { dbName, primaryKey, fields, ...rest } = model as DmmfModel & { dbName?: string | null };
  const sameAsId = primaryKey !== null && primaryKey.name === null && primaryKey.fields.length === 1 && fields.some((field) => field.isId && field.name === primaryKey.fields[0]);
  return {
    ...rest,
    dbName: dbName === model.name ? null : (dbName ?? null),
    primaryKey: sameAsId ? null : primaryKey,
    fields: fields.map((field) => {
      const { dbName: column, nativeType, ...others } = field as DmmfField & { dbName?: string | null };
      const written = nativeType === null || nativeType === undefined ? undefined : `${nativeType[0]}${nativeType[1].length > 0 ? `(${nativeType[1].join(",")})` : ""}`;
      const native = written === undefined || written === defaultNatives[field.type] ? null : nativeType;
      return column === undefined || column === null || column === field.name ? { ...others, nativeType: native } : { ...others, nativeType: native, dbName: column };
    }),
  };
}

/** A JSON value without its `documentation` members (`///` comments change no query's answer). */
function withoutDocumentation(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDocumentation);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== "documentation").map(([key, member]) => [key, withoutDocumentation(member)]));
}

/** Prisma names a compound where input after `name:`, else by joining the fields with "_". */
function modelIdentities(model: DmmfModel): Identity[] {
  const identities: Identity[] = [];
  const compound = (index: { name: string | null; fields: string[] }) => ({ key: index.name ?? index.fields.join("_"), fields: index.fields });
  for (const field of model.fields) if (field.isId) identities.push({ key: field.name, fields: [field.name] });
  if (model.primaryKey !== null) identities.push(compound(model.primaryKey));
  for (const field of model.fields) if (field.isUnique) identities.push({ key: field.name, fields: [field.name] });
  for (const index of model.uniqueIndexes) identities.push(compound(index));
  // A one-field `@@unique([a])` is also reported as `a`'s own uniqueness: keep one.
  return identities.filter((identity, index) => identities.findIndex((other) => other.key === identity.key) === index);
}

const ACTIONS = new Set<string>(["Cascade", "SetNull", "SetDefault", "Restrict", "NoAction"]);

function referentialAction(value: string | null | undefined): ReferentialAction | undefined {
  if (value === null || value === undefined) return undefined;
  // An action this version does not know: assume the widest effect.
  return ACTIONS.has(value) ? (value as ReferentialAction) : "Cascade";
}

/** Databases whose default string comparison is case- (and trailing-space-) insensitive. */
const CASE_INSENSITIVE_PROVIDERS = new Set(["mysql", "sqlserver"]);
/** Text types compared byte for byte (`String` is CockroachDB's). */
const EXACT_TEXT = new Set(["Text", "VarChar", "String"]);
const INSTANT_TYPES = new Set(["Timestamp", "Timestamptz", "DateTime", "DateTime2", "DateTimeOffset"]);

/** How a field's values compare in the database (see IdentityValueKind). */
export function identityValueKind(
  field: Pick<DmmfField, "kind" | "type" | "nativeType">,
  provider: string | undefined,
  enums: ReadonlyMap<string, EnumValues> = new Map(),
): IdentityValueKind {
  const [native, args = []] = field.nativeType ?? [];
  if (field.kind === "enum") return enums.get(field.type) ?? "text";
  switch (field.type) {
    case "String":
      if (provider === undefined || CASE_INSENSITIVE_PROVIDERS.has(provider)) return "inexact";
      if (native === undefined || EXACT_TEXT.has(native)) return "text";
      if (native === "Uuid") return "uuid";
      // PostgreSQL's character(n) ignores trailing blanks; other databases' CHAR differ among themselves.
      return native === "Char" && provider === "postgresql" ? "fixed-width" : "inexact";
    case "DateTime": {
      // Fewer than 3 fractional digits stored, or a date or time alone: the database rounds.
      const precision = args[0] === undefined ? 3 : Number(args[0]);
      return native === undefined || (INSTANT_TYPES.has(native) && precision >= 3) ? "instant" : "inexact";
    }
    case "Decimal":
      // A money column rounds what it is compared with to its own scale (`7.001` finds the row
      // `7.00`: outside probe 282), which the numeric value of the argument does not tell.
      return native === "Money" ? "inexact" : "decimal";
    case "Float":
      return native === undefined || native === "DoublePrecision" ? "float" : "inexact";
    // Other native integers (SmallInt, unsigned) have other ranges: out of them the database errs.
    case "Int":
      return native === undefined || native === "Integer" || native === "Int" ? "int32" : "inexact";
    case "BigInt":
      return native === undefined || native === "BigInt" ? "int64" : "inexact";
    case "Boolean":
      return "boolean";
    case "Bytes":
      return "bytes";
    default:
      return "inexact";
  }
}
