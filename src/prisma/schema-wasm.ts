import { createRequire } from "node:module";
import { readSchemaBlocks } from "./schema-blocks.js";

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

export interface DmmfEnum {
  name: string;
  values: Array<{ name: string }>;
}

export interface DmmfModel {
  name: string;
  fields: DmmfField[];
  primaryKey: { name: string | null; fields: string[] } | null;
  uniqueIndexes: Array<{ name: string | null; fields: string[] }>;
}

interface SchemaWasm {
  get_datamodel(params: string): string;
  preview_features(): string;
}

let wasm: SchemaWasm | undefined;

/**
 * Parses and validates schema text with Prisma's own schema engine (WebAssembly): the data model
 * with ids, uniques, relation keys and referential actions exactly as Prisma reads them. The module
 * (~3 MB) is loaded on first use, when a client is extended, never on the read path.
 */
export function parseDatamodel(schema: string): { models: DmmfModel[]; enums: DmmfEnum[] } {
  wasm ??= createRequire(import.meta.url)("@prisma/prisma-schema-wasm") as SchemaWasm;
  let text: string;
  try {
    text = wasm.get_datamodel(JSON.stringify({ prismaSchema: [["schema.prisma", schema]] }));
  } catch (error) {
    // Generators do not shape the data model, but one naming a preview feature this parser does
    // not know (a newer Prisma) fails validation: retry with every feature this parser knows.
    const retry = withKnownPreviewFeatures(schema, wasm);
    if (retry === schema) throw error;
    text = wasm.get_datamodel(JSON.stringify({ prismaSchema: [["schema.prisma", retry]] }));
  }
  const datamodel = JSON.parse(text) as { models?: DmmfModel[]; enums?: DmmfEnum[] };
  if (!Array.isArray(datamodel.models)) throw new Error("Prisma's schema engine returned no models");
  return { models: datamodel.models, enums: Array.isArray(datamodel.enums) ? datamodel.enums : [] };
}

function withKnownPreviewFeatures(schema: string, parser: SchemaWasm): string {
  const generators = readSchemaBlocks(schema).spans.filter((span) => span.keyword === "generator");
  if (generators.length === 0) return schema;
  let out = schema;
  for (const span of [...generators].reverse()) out = out.slice(0, span.start) + out.slice(span.end);
  const features = JSON.parse(parser.preview_features()) as string[];
  return `${out}\ngenerator client {\n  provider = "prisma-client"\n  previewFeatures = ${JSON.stringify(features)}\n}\n`;
}
