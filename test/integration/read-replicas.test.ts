// `@prisma/extension-read-replicas` applied below the cache: it answers reads outside transactions
// from a replica, which may lag. The cache loads its misses inside a one-query transaction, which
// that extension sends to the primary: what it stores is never older than a write that resolved.
import { PrismaPg } from "@prisma/adapter-pg";
import { readReplicas } from "@prisma/extension-read-replicas";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { createBaseClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";
import { databaseUrl } from "../helpers/databases.ts";

/**
 * A replica that lags: one connection held inside a REPEATABLE READ transaction, so every query
 * through it sees the database as it was when `freeze()` was called, until `catchUp()`.
 */
function laggingReplica() {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
  const client = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    client,
    async freeze() {
      await pool.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await pool.query("SELECT 1");
    },
    async catchUp() {
      await pool.query("COMMIT");
    },
    async close() {
      await client.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}

describe("under @prisma/extension-read-replicas", () => {
  const replica = laggingReplica();
  const { base, pool } = createBaseClient();
  const redis = createRedis();
  const withReplicas = base.$extends(readReplicas({ replicas: [replica.client] }));
  const prisma = withReplicas.$extends(cacheExtension({ redis, namespace: uniqueNamespace(), models: { User: true } }));
  afterAll(async () => {
    await prisma.$cache.close();
    await base.$disconnect();
    await replica.close();
    redis.disconnect();
  });

  it("caches reads, loading misses from the primary: a lagging replica's row is neither served after a write nor stored", async () => {
    const user = await seedUser(base, { name: "v1" });
    await replica.freeze();
    try {
      // The replica still answers plain reads through the extension: it is frozen before this write.
      await prisma.user.update({ where: { id: user.id }, data: { name: "v2" } });
      expect((await withReplicas.user.findUnique({ where: { id: user.id } }))?.name).toBe("v1");
      // Through the cache: the miss is loaded from the primary, stored, then served from L1.
      expect((await prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("v2");
      const loads = prisma.$cache.stats().dbLoads;
      const queries = pool.queries;
      expect((await prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("v2");
      expect(prisma.$cache.stats().dbLoads).toBe(loads);
      expect(pool.queries).toBe(queries);
      expect(prisma.$cache.stats().l1Hits).toBeGreaterThan(0);
      // Another write while the replica still lags: the next read is the new row again.
      await prisma.user.update({ where: { id: user.id }, data: { name: "v3" } });
      expect((await prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("v3");
      expect((await prisma.user.findMany({ where: { id: user.id } })).map((row) => row.name)).toEqual(["v3"]);
      expect(await prisma.user.count({ where: { id: user.id, name: "v3" } })).toBe(1);
      expect(prisma.$cache.stats().bypasses["answered by another extension"] ?? 0).toBe(0);
    } finally {
      await replica.catchUp();
    }
  });

  it("leaves $replica() and $primary() as the extension makes them", async () => {
    const user = await seedUser(base, { name: "direct" });
    expect((await prisma.$primary().user.findUnique({ where: { id: user.id } }))?.name).toBe("direct");
    expect((await prisma.$replica().user.findUnique({ where: { id: user.id } }))?.name).toBe("direct");
  });
});

describe("another extension that answers reads elsewhere outside transactions only", () => {
  const { base, pool } = createBaseClient();
  const redis = createRedis();
  // What a hand-written replica router does: plain reads from a copy, reads in transactions as they are.
  const copies = new Map<number, unknown>();
  const routed = base.$extends({
    name: "hand-written-replica",
    query: {
      user: {
        findUnique: ({ args, query, ...rest }) => {
          const inTransaction = (rest as { __internalParams?: { transaction?: unknown } }).__internalParams?.transaction !== undefined;
          const id = (args.where as { id?: number }).id;
          return (!inTransaction && id !== undefined && copies.has(id) ? Promise.resolve(copies.get(id)) : query(args)) as never;
        },
      },
    },
  });
  const prisma = routed.$extends(cacheExtension({ redis, namespace: uniqueNamespace(), models: { User: true } }));
  afterAll(async () => {
    await prisma.$cache.close();
    await base.$disconnect();
    redis.disconnect();
  });

  it("is answered elsewhere once, not stored; the read's next loads run in a transaction and are stored", async () => {
    const user = await seedUser(base, { name: "stored" });
    const { posts: _posts, ...copy } = user;
    copies.set(user.id, { ...copy, name: "copy" });
    expect((await prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("copy");
    expect(prisma.$cache.stats().bypasses["answered by another extension"]).toBe(1);
    expect((await prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("stored");
    const queries = pool.queries;
    expect((await prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("stored");
    expect(pool.queries).toBe(queries);
    expect(prisma.$cache.stats().bypasses["answered by another extension"]).toBe(1);
  });
});
