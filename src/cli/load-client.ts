import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { CacheControl } from "../prisma/runtime.js";
import { CliError } from "./errors.js";

/** A Prisma client extended with cacheExtension(): all the CLI needs of it. */
export interface ExtendedClient {
  $cache: CacheControl;
  $disconnect?: () => Promise<void>;
}

const EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"];
/** Where the client is looked for when --export does not say. */
const PREFERRED_EXPORTS = ["default", "prisma", "client", "db"];

/** Imports the --client module and finds the extended client it exports. */
export async function loadClient(modulePath: string, cwd: string, exportName: string | undefined): Promise<{ client: ExtendedClient; file: string; exportName: string }> {
  const file = resolveModule(modulePath, cwd);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CliError("E_CLIENT_LOAD_FAILED", loadFailure(file, error), { cause: error });
  }
  const candidates = exportName === undefined ? [...PREFERRED_EXPORTS, ...Object.keys(exports).filter((name) => !PREFERRED_EXPORTS.includes(name))] : [exportName];
  for (const name of candidates) {
    const client = extendedClient(exports[name]);
    if (client !== undefined) return { client, file, exportName: name };
  }
  const names = Object.keys(exports);
  const finding =
    exportName !== undefined
      ? `its export "${exportName}" is not a Prisma client extended with cacheExtension() (exports: ${names.join(", ") || "none"})`
      : names.length === 0
        ? "it has no exports, so no Prisma client extended with cacheExtension()"
        : `none of its exports (${names.join(", ")}) is a Prisma client extended with cacheExtension()`;
  throw new CliError("E_NOT_EXTENDED_CLIENT", `${file}: ${finding}. Export the client returned by prisma.$extends(cacheExtension({...})), as default or as "prisma".`);
}

function resolveModule(modulePath: string, cwd: string): string {
  const absolute = path.resolve(cwd, modulePath);
  for (const candidate of [absolute, ...EXTENSIONS.map((extension) => absolute + extension)]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new CliError("E_CLIENT_NOT_FOUND", `no module at ${absolute} (from --client ${modulePath}; also tried ${EXTENSIONS.join(", ")})`);
}

/** The value, or the CommonJS `module.exports` object a default export wraps, if it is an extended client. */
function extendedClient(value: unknown): ExtendedClient | undefined {
  if (isExtendedClient(value)) return value;
  const inner = (value as { default?: unknown; prisma?: unknown } | null | undefined) ?? undefined;
  if (typeof inner === "object" && inner !== null) {
    if (isExtendedClient(inner.default)) return inner.default;
    if (isExtendedClient(inner.prisma)) return inner.prisma;
  }
  return undefined;
}

function isExtendedClient(value: unknown): value is ExtendedClient {
  if (typeof value !== "object" || value === null) return false;
  const control = (value as { $cache?: Partial<CacheControl> }).$cache;
  return typeof control === "object" && control !== null && typeof control.warm === "function" && typeof control.topQueries === "function" && typeof control.close === "function";
}

function loadFailure(file: string, error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (code === "ERR_UNKNOWN_FILE_EXTENSION" && /\.[mc]?ts$/.test(file)) {
    return `${file} is TypeScript and no loader is active: run NODE_OPTIONS='--import tsx' npx prisma-cache-shield ..., or point --client at the compiled JavaScript`;
  }
  return `importing ${file} failed: ${(error as Error)?.message ?? String(error)}`;
}
