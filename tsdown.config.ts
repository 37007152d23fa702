import { defineConfig } from "tsdown";

const external = ["@prisma/client", "@prisma/prisma-schema-wasm", "ioredis", "lru-cache", "@opentelemetry/api"];

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    platform: "node",
    target: "node20",
    clean: true,
    external,
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
  },
]);
