import { PrismaPg } from "@prisma/adapter-pg";
import { describe, expect, it } from "vitest";
import { clientIdentity } from "../../src/prisma/client-identity.ts";

/** The internals clientIdentity reads, as Prisma 7 keeps them. */
const client = (adapter: unknown, omit?: unknown) => ({ _globalOmit: omit, _engineConfig: { adapter } });
const pg = (connectionString: string, schema?: string) => new PrismaPg({ connectionString }, schema === undefined ? undefined : { schema });

describe("clientIdentity", () => {
  it("differs by database, host, port, user, schema and global omit; not by password", () => {
    const ids = [
      clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a"))).id,
      clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_b"))).id,
      clientIdentity(client(pg("postgres://app:pw@db2:5432/tenant_a"))).id,
      clientIdentity(client(pg("postgres://app:pw@db:5433/tenant_a"))).id,
      clientIdentity(client(pg("postgres://reader:pw@db:5432/tenant_a"))).id,
      clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a", "other"))).id,
      clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a"), { user: { name: true } })).id,
    ];
    expect(new Set(ids).size).toBe(ids.length);
    expect(clientIdentity(client(pg("postgres://app:secret@db:5432/tenant_a"))).id).toBe(ids[0]);
  });

  it("differs by the generator's preview features, in any order; a client without them keeps its identity (outside probe 285)", () => {
    const plain = clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a"))).id;
    const withFeatures = (features: string[]) => clientIdentity({ ...client(pg("postgres://app:pw@db:5432/tenant_a")), _previewFeatures: features }).id;
    expect(withFeatures([])).toBe(plain);
    expect(withFeatures(["relationJoins", "fullTextSearchPostgres"])).not.toBe(plain);
    expect(withFeatures(["fullTextSearchPostgres", "relationJoins"])).toBe(withFeatures(["relationJoins", "fullTextSearchPostgres"]));
    expect(withFeatures(["relationJoins"])).not.toBe(withFeatures(["relationJoins", "fullTextSearchPostgres"]));
  });

  it("reads a pool configuration too, and says when the adapter shows no database", () => {
    const fromPool = clientIdentity(client({ adapterName: "@prisma/adapter-pg", provider: "postgres", config: { host: "db", database: "a", user: "app", password: "x" } }));
    const otherDb = clientIdentity(client({ adapterName: "@prisma/adapter-pg", provider: "postgres", config: { host: "db", database: "b", user: "app", password: "x" } }));
    expect(fromPool.databaseKnown).toBe(true);
    expect(fromPool.id).not.toBe(otherDb.id);
    expect(clientIdentity(client({ adapterName: "custom" })).databaseKnown).toBe(false);
  });

  it("shares one database partition (the Bloom filters') across omit, hooks and connection options, not across databases or schemas", () => {
    const base = clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a"))).database;
    expect(base).toBeDefined();
    expect(clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a?application_name=serviceB"))).database).toBe(base);
    expect(clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a"), { user: { name: true } })).database).toBe(base);
    expect(clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_b"))).database).not.toBe(base);
    expect(clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a", "other"))).database).not.toBe(base);
    expect(clientIdentity(client({ adapterName: "custom" })).database).toBeUndefined();
  });

  it("is one database partition whatever the configuration spells (the schema epoch of a rolling deploy is per database)", () => {
    const local = clientIdentity(client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a"))).database;
    const poolConfig = (config: Record<string, unknown>) => client({ adapterName: "@prisma/adapter-pg", provider: "postgres", config });
    const same = [
      client(pg("postgres://app:pw@localhost/tenant_a")),
      client(pg("postgresql://app@LOCALHOST:5432/tenant_a?sslmode=disable")),
      client(pg("postgres://app:other@[::1]:5432/tenant_a")),
      client(pg("postgres://127.0.0.1/tenant_a?user=app")),
      poolConfig({ host: "localhost", port: 5432, database: "tenant_a", user: "app", password: "x" }),
      poolConfig({ hostname: "127.0.0.1", database: "tenant_a", username: "app" }),
      // The default schema, however named: Prisma names every table with the adapter's schema, else
      // public, and @prisma/adapter-pg reads none from the URL (outside probe 227: one database made two).
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a", "public")),
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a?schema=public")),
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a?schema=other")),
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a?options=-c%20search_path%3Dpublic")),
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a?options=--search_path%3Dother")),
      // Nor the session's name and timeouts, as options (outside probe 228).
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a?options=-c%20application_name%3Dx%20-cstatement_timeout%3D0")),
      // An escaped space inside a value (outside probe 231: the word after it was kept, another database).
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a?options=-c%20application_name%3Dmy%5C%20app")),
    ];
    same.forEach((each, i) => expect(clientIdentity(each).database, `spelling ${i}`).toBe(local));
    for (const other of [
      client(pg("postgres://app:pw@127.0.0.2:5432/tenant_a")),
      client(pg("postgres://app:pw@localhost:5433/tenant_a")),
      client(pg("postgres://app:pw@localhost/tenant_b")),
      client(pg("postgres://reader:pw@localhost/tenant_a")),
      poolConfig({ host: "localhost", port: 5432, database: "tenant_a", user: "reader" }),
      // pg takes the query's port before the URL's (outside probe 81).
      client(pg("postgresql://app@127.0.0.1/tenant_a?port=5481")),
      client(pg("postgresql://app@127.0.0.1:5432/tenant_a?port=5481")),
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a", "other")),
      // A role chooses rows (row-level security); a search path beside it does not.
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a?options=-c%20search_path%3Dpublic%20-c%20role%3Dreader")),
      client(pg("postgresql://app:pw@127.0.0.1:5432/tenant_a?options=-c%20app.tenant%3D2")),
    ]) {
      expect(clientIdentity(other).database).not.toBe(local);
    }
    // A URL without a port, user or database: pg takes them from the environment.
    const saved = { PGPORT: process.env.PGPORT, PGUSER: process.env.PGUSER, PGOPTIONS: process.env.PGOPTIONS };
    try {
      process.env.PGPORT = "5481";
      expect(clientIdentity(client(pg("postgresql://app@127.0.0.1/tenant_a"))).database).not.toBe(local);
      expect(clientIdentity(client(pg("postgresql://app@127.0.0.1:5432/tenant_a"))).database).toBe(local);
      delete process.env.PGPORT;
      process.env.PGUSER = "app";
      expect(clientIdentity(client(pg("postgresql://127.0.0.1/tenant_a"))).database).toBe(local);
      process.env.PGUSER = "reader";
      expect(clientIdentity(client(pg("postgresql://127.0.0.1/tenant_a"))).database).not.toBe(local);
      delete process.env.PGUSER;
      // The URL's options come before PGOPTIONS, as pg reads them.
      const withOptions = clientIdentity(client(pg("postgresql://app@127.0.0.1/tenant_a?options=-c%20role%3Dx"))).database;
      process.env.PGOPTIONS = "-c role=y";
      expect(clientIdentity(client(pg("postgresql://app@127.0.0.1/tenant_a?options=-c%20role%3Dx"))).database).toBe(withOptions);
      expect(clientIdentity(client(pg("postgresql://app@127.0.0.1/tenant_a"))).database).not.toBe(local);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it("differs by the code of query hooks on cached reads (a masking or visibility hook), not without hooks", () => {
    const withHooks = (hooks: Record<string, unknown>) => ({
      ...client(pg("postgres://app:pw@db:5432/tenant_a")),
      _extensions: { getAllQueryCallbacks: (key: string, operation: string) => (hooks[`${key}.${operation}`] === undefined ? [] : [hooks[`${key}.${operation}`]]) },
    });
    const keys = new Map([["User", "user"]]);
    const none = clientIdentity(withHooks({}), ["User"], keys).id;
    expect(none).toBe(clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a"))).id);
    const mask = clientIdentity(withHooks({ "user.findMany": ({ args, query }: { args: unknown; query: (a: unknown) => unknown }) => query(args) }), ["User"], keys).id;
    const filter = clientIdentity(withHooks({ "user.findMany": ({ args, query }: { args: object; query: (a: unknown) => unknown }) => query({ ...args, where: { active: true } }) }), ["User"], keys).id;
    expect(new Set([none, mask, filter]).size).toBe(3);
    // Hooks on writes only do not shape cached entries.
    expect(clientIdentity(withHooks({ "user.update": () => undefined }), ["User"], keys).id).toBe(none);
  });
});
