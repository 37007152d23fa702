import { CacheConfigError, plainMessage } from "../errors.js";
import type { SelectableFields } from "../guard/bloom-guard.js";
import { ModelGraph, type ModelInfo } from "../invalidation/model-graph.js";
import { readSchemaBlocks } from "./schema-blocks.js";
import { readSchema, type SchemaModelFacts } from "./schema-reader.js";
import { SchemaParserUnavailable } from "./schema-wasm.js";

/** The part of Prisma's runtime data model the cache reads. */
export interface RuntimeDataModel {
  models: Record<string, { fields: ReadonlyArray<{ name: string; kind: string; type: string; relationName?: string }> }>;
  enums: Record<string, unknown>;
  types: Record<string, unknown>;
}

interface ClientInternals {
  _runtimeDataModel?: RuntimeDataModel;
  _clientVersion?: string;
  _engineConfig?: { inlineSchema?: string };
}

export interface PrismaSchema {
  dataModel: RuntimeDataModel;
  graph: ModelGraph;
  /** The client property of each model (`User` → `user`). */
  delegateKeys: ReadonlyMap<string, string>;
  /** The Prisma Client version, for the errors the cache throws in Prisma's name. */
  clientVersion: string;
  /** False when the schema text was not available (or not readable) and identities/foreign keys are guessed conservatively. */
  exact: boolean;
  /** Why the schema is not exact, when it is not. */
  inexactReason?: string;
  /** What the schema text says of models and enums (see readSchema), when it could be read: part of the schema fingerprint. */
  shape?: string;
}

/**
 * Reads the schema off a Prisma client. Prisma 7's runtime data model lists fields and relations;
 * identities and foreign keys come from the schema text the client carries. Both are internal
 * to Prisma, so their shape is checked.
 */
export function readPrismaSchema(client: unknown): PrismaSchema {
  const internals = client as ClientInternals | null;
  const dataModel = internals?._runtimeDataModel;
  if (typeof dataModel?.models !== "object" || dataModel.models === null) {
    throw new CacheConfigError("client", "cacheExtension() must be applied with $extends() on a Prisma Client (>= 7); no data model was found");
  }
  const { facts, shape, inexactReason, views } = parsedSchema(internals?._engineConfig?.inlineSchema);
  const models = new Map<string, ModelInfo>();
  const delegateKeys = new Map<string, string>();
  for (const [name, model] of Object.entries(dataModel.models)) {
    const relationFields = model.fields.filter((field) => field.kind === "object");
    const relations = new Map(relationFields.map((field) => [field.name, field.type] as const));
    const own = facts?.get(name);
    // Without the schema's facts, assume every relation holds a key that cascades: cascades then over-invalidate.
    const foreignKeys = own?.foreignKeys ?? new Map(relationFields.map((field) => [field.name, ["?"]] as const));
    models.set(name, { relations, foreignKeys, actions: own?.actions, identities: own?.identities ?? [], isView: views?.get(name) === "view", rewrittenOnUpdate: own?.rewrittenOnUpdate, fieldKinds: own?.fieldKinds });
    delegateKeys.set(name, name.charAt(0).toLowerCase() + name.slice(1));
  }
  const exact = facts !== undefined;
  return { dataModel, graph: new ModelGraph(models), delegateKeys, clientVersion: internals?._clientVersion ?? "unknown", exact, ...(exact ? { shape } : { inexactReason }) };
}

interface ParsedSchema {
  facts?: ReadonlyMap<string, SchemaModelFacts>;
  shape?: string;
  inexactReason?: string;
  views?: ReadonlyMap<string, string>;
}

/**
 * The schema texts parsed in this process. Parsing costs milliseconds (Prisma's parser, then the
 * block reader) and a process extends clients of one or a few schemas, often many times (a cache
 * per tenant database): each text is parsed once. The results are only read, never changed.
 */
const parsedSchemas = new Map<string, ParsedSchema>();
const MAX_PARSED_SCHEMAS = 16;

function parsedSchema(schemaText: unknown): ParsedSchema {
  if (typeof schemaText !== "string") return schemaFacts(schemaText);
  const known = parsedSchemas.get(schemaText);
  if (known !== undefined) return known;
  const parsed: ParsedSchema = { ...schemaFacts(schemaText), views: readSchemaBlocks(schemaText).kinds };
  if (parsedSchemas.size >= MAX_PARSED_SCHEMAS) parsedSchemas.clear();
  parsedSchemas.set(schemaText, parsed);
  return parsed;
}

function schemaFacts(schemaText: unknown): { facts?: Map<string, SchemaModelFacts>; shape?: string; inexactReason?: string } {
  if (typeof schemaText !== "string") return { inexactReason: "the Prisma client carries no schema text" };
  try {
    return readSchema(schemaText);
  } catch (error) {
    if (error instanceof SchemaParserUnavailable) return { inexactReason: `Prisma's schema parser (@prisma/prisma-schema-wasm, a dependency of this package) could not be loaded (${firstLine(error)}): deploy it with the application (a bundle must keep it external, in node_modules)` };
    return { inexactReason: `Prisma's schema parser rejected the client's schema (${firstLine(error)})` };
  }
}

function firstLine(error: unknown): string {
  const message = plainMessage(error);
  return message.split("\n").find((line) => /error/i.test(line))?.trim().slice(0, 200) ?? message.slice(0, 200);
}

/** Per model, its fields and relation fields: what the Bloom guard checks a selection against before it answers without Prisma. */
export function selectableFieldsOf(schema: PrismaSchema): Map<string, SelectableFields> {
  const out = new Map<string, SelectableFields>();
  for (const [model, { fields }] of Object.entries(schema.dataModel.models)) {
    out.set(model, { fields: new Set(fields.map((field) => field.name)), relations: new Set(fields.filter((field) => field.kind === "object").map((field) => field.name)) });
  }
  return out;
}
