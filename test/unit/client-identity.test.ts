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
});
