import { copyFile, writeFile } from "node:fs/promises";
import { defineConfig } from "tsdown";

const external = ["@prisma/client", "@prisma/prisma-schema-wasm", "ioredis", "lru-cache", "@opentelemetry/api"];
/** Build-time advice that is not about this package's code (how long plugins took). */
const checks = { pluginTimings: false };

/**
 * One implementation for both module systems: CommonJS callers get the ESM build through
 * require(esm) (Node ≥ 20.19, our `engines`), so `instanceof CacheError` holds whichever way
 * the app loads the package. The declarations are the same file under the name TypeScript
 * expects for a CommonJS consumer.
 */
async function writeCommonJsEntry(): Promise<void> {
  await writeFile(
    "dist/index.cjs",
    `"use strict";\n// The ESM build, required (Node >= 20.19 can require() ESM): one copy of every class for require() and import.\nmodule.exports = require("./index.mjs");\n`,
  );
  await copyFile("dist/index.d.mts", "dist/index.d.cts");
}

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm"],
    dts: true,
    platform: "node",
    target: "node20",
    clean: true,
    external,
    checks,
    onSuccess: writeCommonJsEntry,
  },
  {
    // The `prisma-cache-shield` bin (package.json "bin"): ESM only, no types; it imports the user's client module.
    entry: { cli: "src/cli/main.ts" },
    format: ["esm"],
    dts: false,
    platform: "node",
    target: "node20",
    clean: false,
    external,
    checks,
  },
]);
