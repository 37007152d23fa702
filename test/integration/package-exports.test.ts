// The built package as an application loads it: `npm run build` first (CI builds before testing).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function requireBuilt(): void {
  if (!existsSync(`${ROOT}dist/index.mjs`)) throw new Error("dist/ is missing: run `npm run build` before this test (CI does)");
}

/** Runs an ES module snippet in a fresh Node process at the package root (so it can import itself by name). */
function node(source: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", source], { cwd: ROOT, encoding: "utf8" });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("the built package", () => {
  it("gives require() and import the same classes and functions: one implementation", () => {
    requireBuilt();
    const run = node(`
      import { createRequire } from "node:module";
      const cjs = createRequire(import.meta.url)("prisma-cache-shield");
      const esm = await import("prisma-cache-shield");
      const names = Object.keys(esm).sort();
      console.log(JSON.stringify({
        names,
        cjsNames: Object.keys(cjs).sort(),
        identical: names.filter((name) => cjs[name] !== esm[name]),
        crossInstanceof: new cjs.CacheConfigError("ttl", "bad") instanceof esm.CacheError && new esm.CacheArgumentError("top", "bad") instanceof cjs.CacheError,
      }));
    `);
    expect(run.stderr).toBe("");
    const result = JSON.parse(run.stdout) as { names: string[]; cjsNames: string[]; identical: string[]; crossInstanceof: boolean };
    expect(result.names).toContain("CacheError");
    expect(result.cjsNames).toEqual(result.names);
    expect(result.identical, "exports that differ between require() and import").toEqual([]);
    expect(result.crossInstanceof).toBe(true);
  });

  it("loads Prisma's schema parser when an application bundles it into CommonJS (where import.meta.url is empty)", () => {
    requireBuilt();
    // Beside the package's node_modules, as a deployed bundle is beside its own.
    const outfile = join(mkdtempSync(`${ROOT}node_modules/.pcs-bundle-`), "app.cjs");
    buildSync({ entryPoints: [`${ROOT}test/fixtures/bundled-app.cjs`], bundle: true, platform: "node", format: "cjs", outfile, external: ["@prisma/client", "@prisma/prisma-schema-wasm", "ioredis"], logLevel: "error" });
    const run = spawnSync(process.execPath, [outfile], { cwd: ROOT, encoding: "utf8" });
    rmSync(dirname(outfile), { recursive: true, force: true });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout), "warnings").toEqual([]);
  });

  it("points every export condition, types included, at a file that exists", () => {
    requireBuilt();
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { main: string; module: string; types: string; bin: Record<string, string>; exports: Record<string, Record<string, Record<string, string>> | string> };
    const conditions = pkg.exports["."] as Record<string, Record<string, string>>;
    const files = [pkg.main, pkg.module, pkg.types, ...Object.values(pkg.bin), ...Object.values(conditions).flatMap((condition) => Object.values(condition))];
    expect(files.filter((file) => !existsSync(`${ROOT}${file}`))).toEqual([]);
  });
});
