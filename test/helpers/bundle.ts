import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

/** Inside node_modules, so that the bundles' imports of packages resolve as the sources' own do. */
const BUNDLES_DIR = fileURLToPath(new URL("../../node_modules/.cache/prisma-cache-shield-test/", import.meta.url));
const built = new Map<string, Map<string, string>>();

/**
 * TypeScript entry points compiled to ES modules that plain Node runs: the library, the generated
 * client and the helpers inlined, packages left to node_modules; modules the entries share (the
 * library) are one chunk, so entries loaded into one process share one copy of the library, as the
 * sources run through tsx do. Node then starts a process without tsx's loader, which cost each one
 * 1–2 s of CPU here (every module it resolves goes through its hooks), and the suite starts processes
 * by the hundred, several at a time on 2 cores. Built once per test process; returns the path of
 * each entry's module.
 */
export function bundle(name: string, entries: readonly string[]): Map<string, string> {
  const known = built.get(name);
  if (known !== undefined) return known;
  if (built.size === 0) {
    pruneDeadBundles();
    process.once("exit", () => rmSync(join(BUNDLES_DIR, String(process.pid)), { recursive: true, force: true }));
  }
  // A directory per test process: two workers never replace each other's files.
  const outdir = join(BUNDLES_DIR, String(process.pid), name);
  mkdirSync(outdir, { recursive: true });
  buildSync({
    entryPoints: [...entries],
    outdir,
    entryNames: "[name]",
    // `.mjs`: Node looks for a package's `type` no higher than node_modules.
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    logLevel: "error",
  });
  const paths = new Map(entries.map((entry) => [entry, join(outdir, basename(entry).replace(/\.[mc]?ts$/, ".mjs"))]));
  built.set(name, paths);
  return paths;
}

/** Bundles of test processes that were killed before they could remove theirs. */
function pruneDeadBundles(): void {
  if (!existsSync(BUNDLES_DIR)) return;
  for (const pid of readdirSync(BUNDLES_DIR)) {
    if (!isAlive(Number(pid))) rmSync(join(BUNDLES_DIR, pid), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
