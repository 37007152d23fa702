#!/usr/bin/env node
// Generates the Prisma clients on any machine, online or not: the example client (prisma/generated)
// the second test schema's (test/schemas/second/generated) and the example schema's next version's
// (test/schemas/next/generated, for rolling deploys of a schema change).
// `prisma generate` insists on downloading the schema engine although it never runs it;
// pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file skips that download.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: "1" };
const cli = require.resolve("prisma/build/index.js");
const root = fileURLToPath(new URL("..", import.meta.url));
const schemas = [[], ["--schema", "test/schemas/second/prisma/schema.prisma"], ["--schema", "test/schemas/next/prisma/schema.prisma"]];
for (const schema of schemas) {
  const result = spawnSync(process.execPath, [cli, "generate", ...schema], { cwd: root, env, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (result.status !== 0) {
    process.stdout.write(result.stdout ?? "");
    process.exit(result.status ?? 1);
  }
}
