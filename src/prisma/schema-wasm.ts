import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
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
  isUpdatedAt?: boolean;
  /** `@default(…)`: a function's name and arguments (`dbgenerated("lower(code)")`), or a value. */
  default?: unknown;
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
  wasm ??= loadParser();
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

/** Prisma's schema parser could not be loaded (a bundle that left it out): not the schema's fault. */
export class SchemaParserUnavailable extends Error {}

function loadParser(): SchemaWasm {
  try {
    // Empty where a bundler turned this module into CommonJS: resolved from the application's entry then.
    const from = import.meta.url || pathToFileURL(process.argv[1] || `${process.cwd()}/`).href;
    return createRequire(from)("@prisma/prisma-schema-wasm") as SchemaWasm;
  } catch (error) {
    throw new SchemaParserUnavailable(String((error as Error)?.message ?? error).split("\n")[0], { cause: error });
  }
}

function withKnownPreviewFeatures(schema: string, parser: SchemaWasm): string {
  const generators = readSchemaBlocks(schema).spans.filter((span) => span.keyword === "generator");
  if (generators.length === 0) return schema;
  let out = schema;
  for (const span of [...generators].reverse()) out = out.slice(0, span.start) + out.slice(span.end);
  const features = JSON.parse(parser.preview_features()) as string[];
  return `${out}\ngenerator client {\n  provider = "prisma-client"\n  previewFeatures = ${JSON.stringify(features)}\n}\n`;
}
