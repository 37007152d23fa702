import { createRequire } from "node:module";

/** The parts of Prisma's DMMF data model (`get_datamodel`) the cache reads. */
export interface DmmfField {
  name: string;
  kind: string;
  type: string;
  isId: boolean;
  isUnique: boolean;
  isRequired: boolean;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string | null;
  relationOnUpdate?: string | null;
}

export interface DmmfModel {
  name: string;
  fields: DmmfField[];
  primaryKey: { name: string | null; fields: string[] } | null;
  uniqueIndexes: Array<{ name: string | null; fields: string[] }>;
}

interface SchemaWasm {
  get_datamodel(params: string): string;
}

let wasm: SchemaWasm | undefined;

/**
 * Parses and validates schema text with Prisma's own schema engine (WebAssembly): the data model
 * with ids, uniques, relation keys and referential actions exactly as Prisma reads them. The module
 * (~3 MB) is loaded on first use, when a client is extended, never on the read path.
 */
export function parseDatamodel(schema: string): DmmfModel[] {
  wasm ??= createRequire(import.meta.url)("@prisma/prisma-schema-wasm") as SchemaWasm;
  const datamodel = JSON.parse(wasm.get_datamodel(JSON.stringify({ prismaSchema: [["schema.prisma", schema]] }))) as { models?: DmmfModel[] };
  if (!Array.isArray(datamodel.models)) throw new Error("Prisma's schema engine returned no models");
  return datamodel.models;
}
