// Where the demo's data lives: the Postgres that DATABASE_URL names, or else an embedded PGlite
// served on a local port, so that Prisma's pg adapter talks to it exactly as to a real server.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";
import { applyMigrations, migrationSql } from "../../scripts/migrations.ts";

export interface Database {
  /** What to print as the database backend. */
  label: string;
  url: string;
  /** Most connections the server takes at once; the pg pool must stay within it. */
  maxConnections: number;
  close(): Promise<void>;
}

export function openDatabase(): Promise<Database> {
  const url = process.env.DATABASE_URL;
  return url ? openExternal(url) : openEmbedded();
}

async function openExternal(url: string): Promise<Database> {
  if (!(await hasUserTable(url))) await applyMigrations(url);
  return { label: `DATABASE_URL (${withoutPassword(url)})`, url, maxConnections: 10, close: async () => {} };
}

async function openEmbedded(): Promise<Database> {
  const db = await PGlite.create();
  for (const sql of migrationSql()) await db.exec(sql);
  // Port 0 lets the OS pick a free port. The server accepts one connection by default and
  // refuses (rather than queues) any other, since PGlite itself runs one query at a time.
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
  await server.start();
  return {
    label: "embedded PGlite (in-memory, pglite-socket)",
    url: `postgresql://postgres@${server.getServerConn()}/postgres`,
    maxConnections: 1,
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}

async function hasUserTable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ exists: boolean }>(`SELECT to_regclass('"User"') IS NOT NULL AS exists`);
    return result.rows[0]?.exists === true;
  } finally {
    await client.end();
  }
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
