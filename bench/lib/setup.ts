// Shared setup for the benchmarks: the generated Prisma client, a scratch PostgreSQL database,
// a Redis connection, a unique cache namespace and the clean-up of all of them.
//
// Every benchmark creates its own database and namespace and removes both at the end, so a run
// never touches data it did not create. DATABASE_URL (an admin connection: the scratch database
// is created next to the database it names) and REDIS_URL override the local defaults.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { applyMigrations, createDatabase, dropDatabase } from "../../scripts/migrations.ts";

export const DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const GENERATED_CLIENT = fileURLToPath(new URL("../../prisma/generated/client.ts", import.meta.url));

/** The admin connection string: DATABASE_URL, or the local trust-auth default. */
export function adminUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_ADMIN_URL;
}

/** The Redis connection string: REDIS_URL, or the local default. */
export function redisUrl(): string {
  return process.env.REDIS_URL || DEFAULT_REDIS_URL;
}

/**
 * Generates prisma/generated when it is missing. Call it before importing the generated client
 * (with a dynamic `import()`), since a static import would be resolved before this runs.
 */
export function ensureGeneratedClient(): void {
  if (existsSync(GENERATED_CLIENT)) return;
  const result = spawnSync(process.execPath, ["scripts/prisma-generate.mjs"], { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`prisma generate failed (exit ${result.status ?? result.signal})`);
}

/** A short identifier unique to this process and moment, usable in database and key names. */
export function runId(): string {
  return `${process.pid.toString(36)}${Date.now().toString(36)}`;
}

/** A cache namespace unique to this run: `<prefix>-<run id>` (fits [A-Za-z0-9_.-]{1,64}). */
export function uniqueNamespace(prefix = "bench"): string {
  return `${prefix}-${runId()}`;
}

export interface ScratchDatabase {
  /** The database name. */
  name: string;
  /** A connection string for it. */
  url: string;
  /** Drops it (idempotent). */
  drop(): Promise<void>;
}

/** Creates an empty database with the project's migrations applied. */
export async function createScratchDatabase(prefix = "pcs_bench", admin = adminUrl()): Promise<ScratchDatabase> {
  const name = `${prefix}_${runId()}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const url = await createDatabase(admin, name);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await dropDatabase(admin, name);
  };
  try {
    await applyMigrations(url);
  } catch (error) {
    await drop().catch(() => {});
    throw error;
  }
  return { name, url, drop };
}

/** A connected ioredis client; fails fast (no endless reconnects) if Redis is not there. */
export async function connectRedis(url = redisUrl()): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  await redis.connect();
  return redis;
}

/** Every key under `<namespace>:`, found with SCAN (never blocks Redis like KEYS would). */
export async function keysInNamespace(redis: Redis, namespace: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${namespace}:*`, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return keys;
}

/**
 * Deletes every key the cache keeps for `namespace` (entries `<namespace>:…`, versions, locks and
 * statistics `{<namespace>}:…`, writes' dirty marks `d{<namespace>}:…`, hot-key replicas
 * `{r<n>:<hash>}<namespace>:…`); returns how many there were.
 */
export async function deleteNamespace(redis: Redis, namespace: string): Promise<number> {
  const groups = await Promise.all([namespace, `{${namespace}}`, `d{${namespace}}`, `{r*}${namespace}`].map((prefix) => keysInNamespace(redis, prefix)));
  const keys = groups.flat();
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  return keys.length;
}

/**
 * Clean-up steps run in reverse order of registration, once, whether the benchmark finishes,
 * throws or is interrupted (SIGINT/SIGTERM). A failing step is reported and does not stop the rest.
 */
export class Cleanup {
  readonly #steps: { label: string; run: () => unknown }[] = [];
  #done: Promise<void> | undefined;

  constructor({ handleSignals = true }: { handleSignals?: boolean } = {}) {
    if (!handleSignals) return;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        process.stderr.write(`\n${signal}: cleaning up…\n`);
        void this.run().finally(() => process.exit(130));
      });
    }
  }

  add(label: string, run: () => unknown): void {
    this.#steps.push({ label, run });
  }

  run(): Promise<void> {
    return (this.#done ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await step.run();
        } catch (error) {
          process.stderr.write(`clean-up "${step.label}" failed: ${String((error as Error)?.message ?? error)}\n`);
        }
      }
    })());
  }
}

/** The host of a Redis URL for a report header; never the credentials. */
export function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(unparsable REDIS_URL)";
  }
}

/** A scratch database and a Redis connection, both released by `cleanup` (the preamble every bench shares). */
export async function openScratchResources(databasePrefix: string, cleanup: Cleanup) {
  const db = await createScratchDatabase(databasePrefix);
  cleanup.add("drop scratch database", db.drop);
  const redis = await connectRedis();
  cleanup.add("quit Redis", () => redis.quit());
  return { db, redis };
}
