// Start-up cost of reading the Prisma schema: loading Prisma's schema parser (WebAssembly), parsing
// each test schema, and creating an extended client (the whole `$extends(cacheExtension(…))`).
// None of it is on the read path: it runs once per `$extends`.
import { readFileSync } from "node:fs";
import { PrismaPg } from "@prisma/adapter-pg";
import { cacheExtension } from "../src/index.ts";
import { readPrismaSchema } from "../src/prisma/data-model.ts";
import { readSchemaFacts } from "../src/prisma/schema-reader.ts";
import { parseDatamodel } from "../src/prisma/schema-wasm.ts";
import { ensureGeneratedClient } from "./lib/setup.ts";
import { header, renderTable, type Row } from "./lib/table.ts";

const ROUNDS = 50;

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeMs(work: () => unknown): number {
  const start = performance.now();
  work();
  return performance.now() - start;
}

async function main(): Promise<void> {
  ensureGeneratedClient();
  const schemas = {
    example: { text: readFileSync(new URL("../prisma/schema.prisma", import.meta.url), "utf8"), client: (await import("../prisma/generated/client.ts")).PrismaClient, models: { User: true, Post: true } },
    second: { text: readFileSync(new URL("../test/schemas/second/prisma/schema.prisma", import.meta.url), "utf8"), client: (await import("../test/schemas/second/generated/client.ts")).PrismaClient, models: { Person: true, Team: true } },
  };
  const rows: Row[] = [];
  // The first parse also loads and compiles the ~3 MB WebAssembly module.
  rows.push(["load parser + first parse (example)", timeMs(() => parseDatamodel(schemas.example.text)).toFixed(2)]);
  for (const [name, schema] of Object.entries(schemas)) {
    rows.push({ section: `${name} schema (${schema.text.length} characters)` });
    rows.push(["  readSchemaFacts, median", median(Array.from({ length: ROUNDS }, () => timeMs(() => readSchemaFacts(schema.text)))).toFixed(2)]);
    // Never connects: creating clients and extensions needs no database.
    const Client = schema.client as unknown as new (options: { adapter: PrismaPg }) => object;
    const base = new Client({ adapter: new PrismaPg({ connectionString: "postgresql://unused@127.0.0.1:1/none" }) });
    rows.push(["  readPrismaSchema(client), median", median(Array.from({ length: ROUNDS }, () => timeMs(() => readPrismaSchema(base)))).toFixed(2)]);
    const extend = () => (base as { $extends(extension: unknown): unknown }).$extends(cacheExtension({ models: schema.models as never }));
    rows.push(["  $extends(cacheExtension()), first", timeMs(extend).toFixed(2)]);
    rows.push(["  $extends(cacheExtension()), median", median(Array.from({ length: ROUNDS }, () => timeMs(extend))).toFixed(2)]);
  }
  console.log(header("Schema reading at start-up", { rounds: String(ROUNDS) }));
  console.log();
  console.log(renderTable([{ header: "step" }, { header: "ms" }], rows));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
