import { CacheConfigError } from "../errors.js";

/** The part of Prisma's runtime data model the cache reads. */
export interface RuntimeDataModel {
  models: Record<string, { fields: ReadonlyArray<{ name: string; kind: string; type: string; relationName?: string }> }>;
  enums: Record<string, unknown>;
  types: Record<string, unknown>;
}

export interface DataModelFacts {
  modelNames: readonly string[];
  /** Relation field names per model: the methods of Prisma's fluent API. */
  relationFields: ReadonlyMap<string, readonly string[]>;
  /** The client property of each model (`User` → `user`). */
  delegateKeys: ReadonlyMap<string, string>;
}

/** Reads the data model off a Prisma client; the shape is internal to Prisma, so check it. */
export function readDataModel(client: unknown): RuntimeDataModel {
  const dataModel = (client as { _runtimeDataModel?: RuntimeDataModel } | null)?._runtimeDataModel;
  if (typeof dataModel?.models !== "object" || dataModel.models === null) {
    throw new CacheConfigError("client", "cacheExtension() must be applied with $extends() on a Prisma Client (>= 7); no data model was found");
  }
  return dataModel;
}

export function describeDataModel(dataModel: RuntimeDataModel): DataModelFacts {
  const relationFields = new Map<string, string[]>();
  const delegateKeys = new Map<string, string>();
  for (const [name, model] of Object.entries(dataModel.models)) {
    relationFields.set(name, model.fields.filter((field) => field.kind === "object").map((field) => field.name));
    delegateKeys.set(name, name.charAt(0).toLowerCase() + name.slice(1));
  }
  return { modelNames: Object.keys(dataModel.models), relationFields, delegateKeys };
}
