import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { applyMigrations, createDatabase, dropDatabase } from "../../scripts/migrations.ts";
import { cacheExtension } from "../../src/index.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { createFleet } from "../helpers/fleet.ts";
import { FakeClock } from "../helpers/random.ts";
import { seedUser } from "../helpers/seed.ts";
import { databaseUrl } from "../helpers/databases.ts";

const MODELS = { User: true, Post: true, Tag: true, Comment: true } as const;

/** Issue 10, item 7: the per-query `cache` option is part of what makes an entry. */
describe("the cache option decides the entry", () => {
  const clock = new FakeClock();
  const fleet = createFleet({ clock, jitter: 0, models: { User: { ttl: 60 }, Post: true } });
  afterAll(() => fleet.close());

  it("a read tagged b is never served the entry of a read tagged a: invalidate({ tags: ['b'] }) reaches it", async () => {
    const user = await seedUser(fleet.writer.base);
    const read = (tag: string) => (p: typeof fleet.writer.prisma) => p.user.findUnique({ where: { id: user.id }, cache: { tags: [tag] } });
    for (const reader of [fleet.l1Reader, fleet.redisReader]) {
      await read("a")(reader.prisma);
      await read("b")(reader.prisma);
    }
    // A change the cache cannot see (another service), then the tag the application knows about.
    await fleet.writer.base.user.update({ where: { id: user.id }, data: { name: "changed elsewhere" } });
    await fleet.writer.prisma.$cache.invalidate({ tags: ["b"] });
    for (const reader of [fleet.l1Reader, fleet.redisReader]) {
      expect((await read("b")(reader.prisma))?.name).toBe("changed elsewhere");
      // Tag a's entry is its own, and tag a was not invalidated: it still holds the old row.
      expect((await read("a")(reader.prisma))?.name).toBe(user.name);
    }
  });

  it("tags are a set: order and repetition do not split entries", async () => {
    const user = await seedUser(fleet.writer.base);
    const reader = fleet.l1Reader;
    await reader.prisma.user.findUnique({ where: { id: user.id }, cache: { tags: ["x", "y"] } });
    const before = reader.pool.queries;
    await reader.prisma.user.findUnique({ where: { id: user.id }, cache: { tags: ["y", "x", "x"] } });
    expect(reader.pool.queries).toBe(before);
  });

  it("a read asking ttl: 1 is never served an entry stored with the model's ttl", async () => {
    const user = await seedUser(fleet.writer.base);
    const read = (ttl?: number) => (p: typeof fleet.writer.prisma) => p.user.findFirst({ where: { id: user.id }, ...(ttl === undefined ? {} : { cache: { ttl } }) });
    for (const reader of [fleet.l1Reader, fleet.redisReader]) {
      await read()(reader.prisma);
      await read(1)(reader.prisma);
    }
    await fleet.writer.base.user.update({ where: { id: user.id }, data: { name: "after a second" } });
    clock.advance(1_001);
    for (const reader of [fleet.l1Reader, fleet.redisReader]) {
      expect((await read(1)(reader.prisma))?.name, "the 1 s entry has expired").toBe("after a second");
      expect((await read()(reader.prisma))?.name, "the 60 s entry is still fresh").toBe(user.name);
    }
  });
});

/** Issue 10, item 8: the client's own configuration and its database are part of the key. */
describe("the client's configuration and database decide the entry", () => {
  const namespace = uniqueNamespace();
  const plain = createCachedClient({ namespace });
  const redis = createRedis();
  const clients: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await plain.close();
    redis.disconnect();
  });

  /** An extended client on `url` (default: the test database), with client options. */
  function clientOn(url: string, options: { omit?: { user?: { name?: boolean } }; l1?: false; bloom?: true; namespace?: string } = {}) {
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }), ...(options.omit ? { omit: options.omit } : {}) });
    const models = options.bloom ? { ...MODELS, User: { bloom: true } } : MODELS;
    const prisma = base.$extends(cacheExtension({ namespace: options.namespace ?? namespace, redis, models, ...(options.l1 === false ? { l1: false as const } : {}) }));
    const client = { base, prisma, close: async () => (await prisma.$cache.close(), await base.$disconnect()) };
    clients.push(client);
    return client;
  }

  it("a client with a global omit never receives the omitted field from a client without it", async () => {
    const user = await seedUser(plain.base);
    const read = (p: typeof plain.prisma) => p.user.findUnique({ where: { id: user.id } });
    expect((await read(plain.prisma))?.name).toBe(user.name);
    expect((await read(plain.prisma))?.name).toBe(user.name);
    for (const l1 of [undefined, false] as const) {
      const omitting = clientOn(databaseUrl(), { omit: { user: { name: true } }, ...(l1 === false ? { l1 } : {}) });
      const expected = await omitting.base.user.findUnique({ where: { id: user.id } });
      expect(expected).not.toHaveProperty("name");
      expect(await read(omitting.prisma as never)).toEqual(expected);
      expect(await read(omitting.prisma as never)).toEqual(expected);
    }
  });

  it("a client with a result extension (computed fields) applied before the cache never shares entries with one without", async () => {
    const user = await seedUser(plain.base);
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl() }) });
    const computing = base
      .$extends({ result: { user: { shout: { needs: { email: true }, compute: (u) => u.email.toUpperCase() } } } })
      .$extends(cacheExtension({ namespace, redis, models: MODELS }));
    clients.push({ close: async () => (await computing.$cache.close(), await base.$disconnect()) });
    const read = (p: typeof plain.prisma) => p.user.findUnique({ where: { id: user.id } });
    await read(computing as never);
    expect(await read(plain.prisma)).not.toHaveProperty("shout");
    await read(plain.prisma);
    const other = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl() }) });
    const computingToo = other
      .$extends({ result: { user: { shout: { needs: { email: true }, compute: (u) => u.email.toUpperCase() } } } })
      .$extends(cacheExtension({ namespace, redis, models: MODELS, l1: false }));
    clients.push({ close: async () => (await computingToo.$cache.close(), await other.$disconnect()) });
    expect((await read(computingToo as never)) as unknown).toHaveProperty("shout", user.email.toUpperCase());
  });

  describe("two databases with the same schema and namespace (database per tenant)", () => {
    const adminUrl = new URL(databaseUrl());
    adminUrl.pathname = "/postgres";
    const otherName = `pcs_tenant_${process.pid}_${Date.now()}`;
    let otherUrl: string;
    beforeAll(async () => {
      otherUrl = await createDatabase(adminUrl.toString(), otherName);
      await applyMigrations(otherUrl);
    });
    afterAll(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await dropDatabase(adminUrl.toString(), otherName);
    });

    it("have a Bloom filter each: a row that exists only in one is never reported absent", async () => {
      const bloomNamespace = uniqueNamespace();
      const tenantA = clientOn(databaseUrl(), { bloom: true, namespace: bloomNamespace });
      const tenantB = clientOn(otherUrl, { bloom: true, namespace: bloomNamespace });
      const email = `only-b-${Date.now()}@example.com`;
      await tenantB.base.user.create({ data: { email, name: "only in B" } });
      await tenantA.prisma.$cache.prepareBloom();
      await tenantB.prisma.$cache.prepareBloom();
      expect((await tenantB.prisma.user.findUnique({ where: { email } }))?.name).toBe("only in B");
    });

    it("never serve each other's rows, from L1 or from Redis", async () => {
      const id = 900_000 + Math.floor(Math.random() * 90_000);
      const tenantA = clientOn(databaseUrl());
      const tenantB = clientOn(otherUrl);
      const tenantBRedisOnly = clientOn(otherUrl, { l1: false });
      await tenantA.base.user.create({ data: { id, email: `a-${id}@example.com`, name: "tenant A" } });
      await tenantB.base.user.create({ data: { id, email: `b-${id}@example.com`, name: "tenant B" } });
      const read = (p: typeof plain.prisma) => p.user.findUnique({ where: { id } });
      expect((await read(tenantA.prisma as never))?.name).toBe("tenant A");
      expect((await read(tenantA.prisma as never))?.name).toBe("tenant A");
      for (const reader of [tenantB, tenantBRedisOnly]) {
        expect((await read(reader.prisma as never))?.name).toBe("tenant B");
        expect((await read(reader.prisma as never))?.name).toBe("tenant B");
      }
      const list = (p: typeof plain.prisma) => p.user.count({ where: { id } });
      expect(await list(tenantA.prisma as never)).toBe(1);
      await tenantB.base.user.delete({ where: { id } });
      expect(await list(tenantBRedisOnly.prisma as never)).toBe(0);
    });
  });
});
