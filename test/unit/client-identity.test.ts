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
    expect(clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a?schema=other"))).database).not.toBe(base);
    expect(clientIdentity(client(pg("postgres://app:pw@db:5432/tenant_a", "other"))).database).not.toBe(base);
    expect(clientIdentity(client({ adapterName: "custom" })).database).toBeUndefined();
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
