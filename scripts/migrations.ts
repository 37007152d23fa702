// Applies prisma/migrations/*/migration.sql in order, the layout `prisma migrate deploy` reads.
// Tests, the demo and the benchmarks use it where the Prisma schema engine is not available.
// The tests' second schema keeps its migrations in SECOND_MIGRATIONS_DIR.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../prisma/migrations", import.meta.url));

export const SECOND_MIGRATIONS_DIR = fileURLToPath(new URL("../test/schemas/second/prisma/migrations", import.meta.url));

export function migrationSql(dir: string = MIGRATIONS_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => readFileSync(join(dir, name, "migration.sql"), "utf8"));
}

export async function applyMigrations(connectionString: string, dir: string = MIGRATIONS_DIR): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    for (const sql of migrationSql(dir)) await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates a new, empty database next to the one `adminUrl` points at and returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
