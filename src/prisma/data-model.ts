import { CacheConfigError } from "../errors.js";
import { ModelGraph, type ModelInfo } from "../invalidation/model-graph.js";
import { readSchemaFacts } from "./schema-reader.js";

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
  /** False when the schema text was not available and identities/foreign keys are guessed conservatively. */
  exact: boolean;
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
  const schemaText = internals?._engineConfig?.inlineSchema;
  const facts = typeof schemaText === "string" ? readSchemaFacts(schemaText) : undefined;
  const models = new Map<string, ModelInfo>();
  const delegateKeys = new Map<string, string>();
  for (const [name, model] of Object.entries(dataModel.models)) {
    const relationFields = model.fields.filter((field) => field.kind === "object");
    const relations = new Map(relationFields.map((field) => [field.name, field.type] as const));
    const own = facts?.get(name);
    // Without the schema text, assume every relation holds a key: cascades then over-invalidate.
    const foreignKeys = own?.foreignKeys ?? new Map(relationFields.map((field) => [field.name, ["?"]] as const));
    models.set(name, { relations, foreignKeys, identities: own?.identities ?? [] });
    delegateKeys.set(name, name.charAt(0).toLowerCase() + name.slice(1));
  }
  return { dataModel, graph: new ModelGraph(models), delegateKeys, clientVersion: internals?._clientVersion ?? "unknown", exact: facts !== undefined };
}
