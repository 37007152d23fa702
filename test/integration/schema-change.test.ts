import { randomUUID } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import type { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PrismaClient as CurrentClient } from "../../prisma/generated/client.ts";
import { applyMigrations, createDatabase, dropDatabase } from "../../scripts/migrations.ts";
import { cacheExtension, type CacheExtensionOptions } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";
import { createRedis, uniqueNamespace } from "../helpers/client.ts";
import { createSecondCachedClient } from "../helpers/second-client.ts";
import { startChild } from "../helpers/child-process.ts";
import { holdUserRowLock } from "../helpers/row-lock.ts";
import { until } from "../helpers/wait.ts";
import type { FrozenReaderReport } from "../multi-process/frozen-reader.ts";
import { PrismaClient as NextClient } from "../schemas/next/generated/client.ts";
import { databaseUrl as workerDatabaseUrl } from "../helpers/databases.ts";

/** What the next version's migration adds: a unique column and a table related to "Post" (the next version's `Article`). */
const NEXT_MIGRATION = `
  ALTER TABLE "User" ADD COLUMN "handle" TEXT;
  CREATE UNIQUE INDEX "User_handle_key" ON "User"("handle");
  CREATE TABLE "Note" ("id" SERIAL PRIMARY KEY, "text" TEXT NOT NULL, "articleId" INTEGER NOT NULL REFERENCES "Post"("id") ON DELETE CASCADE ON UPDATE CASCADE);
`;

/**
 * A rolling deploy of a schema change: instances of the old schema (the example's) and of the
 * next (test/schemas/next: a field and a model renamed with @map/@@map, a new unique field, a
 * new relation) share one namespace and one database. Each side's reads depend on names the other
 * side's writes do not know; while both are live, every write also bumps the schema epoch.
 */
describe("instances of two schema versions in one namespace (a rolling deploy of a schema change)", () => {
  const admin = new URL(workerDatabaseUrl());
  admin.pathname = "/postgres";
  const database = `pcs_schema_change_${process.pid}_${Date.now()}`;
  let databaseUrl: string;
  const open: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    databaseUrl = await createDatabase(admin.href, database);
    await applyMigrations(databaseUrl);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query(NEXT_MIGRATION);
    } finally {
      await client.end();
    }
  });
  afterAll(async () => {
    for (const close of open.reverse()) await close().catch(() => {});
    await dropDatabase(admin.href, database);
  });

  type Options = Partial<Omit<CacheExtensionOptions, "redis" | "namespace">>;
  /** A pool and a Redis connection for one instance, and its close (once, whoever calls it first). */
  function parts(namespace: string, options: Options, models: CacheExtensionOptions["models"], connectionString = databaseUrl) {
    const pool = new CountingPool({ connectionString, max: 4 });
    const redis = createRedis();
    const extension = cacheExtension({ redis, namespace, models, ...options });
    const closing = (cache: { close(): Promise<void> }, base: { $disconnect(): Promise<void> }) => {
      let closed: Promise<void> | undefined;
      const close = () =>
        (closed ??= (async () => {
          await cache.close();
          await base.$disconnect();
          await pool.end();
          redis.disconnect();
        })());
      open.push(close);
      return close;
    };
    return { pool, adapter: new PrismaPg(pool), extension, closing };
  }
  function current(namespace: string, options: Options = {}) {
    const { pool, adapter, extension, closing } = parts(namespace, options, { User: true, Post: true, Tag: true, Comment: true });
    const base = new CurrentClient({ adapter });
    const prisma = base.$extends(extension);
    return { base, prisma, pool, close: closing(prisma.$cache, base) };
  }
  function next(namespace: string, options: Options = {}, connectionString = databaseUrl) {
    const { pool, adapter, extension, closing } = parts(namespace, options, { User: true, Article: true, Tag: true, Comment: true, Note: true }, connectionString);
    const base = new NextClient({ adapter });
    const prisma = base.$extends(extension);
    return { base, prisma, pool, close: closing(prisma.$cache, base) };
  }
  /** Resolves once `count` instances are registered live in the namespace (each with its schema: one script registers both). */
  async function liveInstances(redis: Redis, namespace: string, count: number): Promise<void> {
    await until(async () => (await redis.zcount(`{${namespace}}:instances`, Date.now(), "+inf")) === count, 10_000, 20);
  }
  /** One instance of each schema version on a fresh namespace, both registered. */
  async function bothVersions() {
    const namespace = uniqueNamespace();
    const old = current(namespace);
    const young = next(namespace);
    const redis = createRedis();
    await liveInstances(redis, namespace, 2);
    return { namespace, old, young, redis };
  }
  const email = () => `${randomUUID().slice(0, 8)}@schema-change.example`;

  it("a write of either version invalidates what the other cached: by a renamed field, a new unique field, a renamed model, a new relation", async () => {
    const { old, young, redis } = await bothVersions();
    try {
      const user = await old.base.user.create({ data: { email: email(), name: "before" } });
      const handle = `h-${user.id}`;
      await young.base.user.update({ where: { id: user.id }, data: { handle } });
      const article = await old.base.post.create({ data: { slug: "s", title: "before", authorId: user.id } });
      await young.base.note.create({ data: { text: "n", articleId: article.id } });

      // Cached by each version, then written by the other.
      expect((await young.prisma.user.findUnique({ where: { emailAddress: user.email } }))?.name).toBe("before");
      expect((await young.prisma.user.findUnique({ where: { handle } }))?.name).toBe("before");
      expect((await old.prisma.user.findUnique({ where: { email: user.email } }))?.name).toBe("before");
      await old.prisma.user.update({ where: { id: user.id }, data: { name: "written by the old version" } });
      expect((await young.prisma.user.findUnique({ where: { emailAddress: user.email } }))?.name, "by a renamed field").toBe("written by the old version");
      expect((await young.prisma.user.findUnique({ where: { handle } }))?.name, "by a new unique field").toBe("written by the old version");
      await young.prisma.user.update({ where: { id: user.id }, data: { name: "written by the next version" } });
      expect((await old.prisma.user.findUnique({ where: { email: user.email } }))?.name, "the old version, by the field the next one renamed").toBe("written by the next version");

      expect((await young.prisma.article.findMany({ where: { authorId: user.id } })).map((each) => each.title)).toEqual(["before"]);
      await old.prisma.post.update({ where: { id: article.id }, data: { title: "retitled by the old version" } });
      expect((await young.prisma.article.findMany({ where: { authorId: user.id } })).map((each) => each.title), "a renamed model").toEqual(["retitled by the old version"]);

      expect(await young.prisma.note.count({ where: { articleId: article.id } })).toBe(1);
      await old.prisma.post.delete({ where: { id: article.id } });
      expect(await young.prisma.note.count({ where: { articleId: article.id } }), "a relation the old version does not know, emptied by the database's cascade").toBe(0);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it("the Bloom guard of one version never answers 'absent' for a record the other created or a filter built from the other's identities lacks", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    try {
      // The old version builds the shared filter while it is alone.
      const old = current(namespace, { models: { User: { bloom: true }, Post: true, Tag: true, Comment: true } });
      const existing = await old.base.user.create({ data: { email: email() } });
      await old.prisma.$cache.prepareBloom();
      expect(old.prisma.$cache.stats().bloomBuilds).toBe(1);
      const handle = `h-${existing.id}`;
      await old.base.$executeRaw`UPDATE "User" SET handle = ${handle} WHERE id = ${existing.id}`;

      const young = next(namespace, { models: { User: { bloom: true }, Article: true, Tag: true, Comment: true, Note: true } });
      await liveInstances(redis, namespace, 2);
      await young.prisma.$cache.prepareBloom();
      expect((await young.prisma.user.findUnique({ where: { handle } }))?.id, "a row the old version's filter holds by other identities").toBe(existing.id);
      const created = await old.prisma.user.create({ data: { email: email() } });
      expect((await young.prisma.user.findUnique({ where: { emailAddress: created.email } }))?.id, "a row the old version created").toBe(created.id);
      const madeByYoung = await young.prisma.user.create({ data: { emailAddress: email() } });
      expect((await old.prisma.user.findUnique({ where: { email: madeByYoung.emailAddress } }))?.id, "a row the next version created").toBe(madeByYoung.id);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it("instances whose configurations spell the database differently still count as one database", async () => {
    const namespace = uniqueNamespace();
    const old = current(namespace);
    // Another spelling of the same database: another scheme name, "localhost", no port.
    const spelt = new URL(databaseUrl);
    spelt.protocol = "postgres:";
    if (spelt.hostname === "127.0.0.1") spelt.hostname = "localhost";
    if (spelt.port === "5432") spelt.port = "";
    const young = next(namespace, {}, spelt.href);
    const redis = createRedis();
    try {
      await liveInstances(redis, namespace, 2);
      const user = await old.base.user.create({ data: { email: email(), name: "before" } });
      const handle = `h-${user.id}`;
      await young.base.user.update({ where: { id: user.id }, data: { handle } });
      expect((await young.prisma.user.findUnique({ where: { handle } }))?.name).toBe("before");
      await old.prisma.user.update({ where: { id: user.id }, data: { name: "written by the old version" } });
      expect((await young.prisma.user.findUnique({ where: { handle } }))?.name, "by a new unique field").toBe("written by the old version");
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it("writes carry the epoch to every instance: no message is refused, every one acknowledged", async () => {
    const { old, young, redis } = await bothVersions();
    try {
      const user = await old.base.user.create({ data: { email: email() } });
      for (let i = 0; i < 3; i++) {
        await old.prisma.user.update({ where: { id: user.id }, data: { name: `old ${i}` } });
        await young.prisma.user.update({ where: { id: user.id }, data: { name: `young ${i}` } });
      }
      for (const { prisma } of [old, young]) expect(prisma.$cache.stats()).toMatchObject({ rejectedMessages: 0, invalidationAckTimeouts: 0 });
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it("applications of other schemas on other databases sharing the namespace do not count as a schema change", async () => {
    const namespace = uniqueNamespace();
    const mine = next(namespace);
    const other = createSecondCachedClient({ namespace });
    const redis = createRedis();
    try {
      await liveInstances(redis, namespace, 2);
      const [a, b] = [await mine.base.user.create({ data: { emailAddress: email() } }), await mine.base.user.create({ data: { emailAddress: email() } })];
      await mine.prisma.user.findUnique({ where: { id: a.id } });
      await mine.prisma.user.update({ where: { id: b.id }, data: { name: "another row" } });
      const queries = mine.pool.queries;
      await mine.prisma.user.findUnique({ where: { id: a.id } });
      expect(mine.pool.queries, "a write of another row invalidated this one: the epoch moved").toBe(queries);
    } finally {
      await other.close();
      redis.disconnect();
    }
  }, 60_000);

  it("an old-schema instance frozen past its registration serves nothing cached until it registered again", async () => {
    const namespace = uniqueNamespace();
    const young = next(namespace);
    const redis = createRedis();
    const user = await young.base.user.create({ data: { emailAddress: email(), name: "before the freeze" } });
    for (const l1 of ["1", "0"]) {
      await young.prisma.user.update({ where: { id: user.id }, data: { name: "before the freeze" } });
      const reader = startChild<FrozenReaderReport>("frozen-reader.ts", { DATABASE_URL: databaseUrl, REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, USER_EMAIL: user.emailAddress, OLD_NAME: "before the freeze", DURATION_MS: "7000", L1: l1 });
      await reader.printed("ready");
      process.kill(reader.pid, "SIGSTOP");
      let resolvedAt: number;
      try {
        // Frozen past its registration's lifetime: the other schema no longer counts as live, so this write bumps no epoch.
        await until(async () => (await redis.zcount(`{${namespace}}:schemas`, Date.now(), "+inf")) === 1, 10_000, 50);
        await young.prisma.user.update({ where: { id: user.id }, data: { name: "written while it was frozen" } });
        resolvedAt = performance.timeOrigin + performance.now();
      } finally {
        process.kill(reader.pid, "SIGCONT");
      }
      const report = await reader.result;
      expect(report.lastOldAt, `l1 ${l1}: a read started after the write resolved returned the old row`).toBeLessThan(resolvedAt);
      expect(report.firstNewAt).toBeGreaterThan(0);
    }
    redis.disconnect();
  }, 90_000);

  it("a version that returns after another's deploy came and went serves nothing it stored before (a rollback; outside probe 189)", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    const liveSchemas = () => redis.zcount(`{${namespace}}:schemas`, Date.now(), "+inf");
    try {
      const old = current(namespace);
      await liveInstances(redis, namespace, 1);
      const user = await old.base.user.create({ data: { email: email() } });
      const post = await old.base.post.create({ data: { slug: `rollback-${user.id}`, title: "before the deploy", authorId: user.id } });
      const readPost = (client: ReturnType<typeof current>) => client.prisma.post.findMany({ where: { authorId: user.id } });
      expect((await readPost(old)).map((each) => each.title)).toEqual(["before the deploy"]);
      await old.close();
      await until(async () => (await liveSchemas()) === 0, 10_000, 50);
      // The next version alone: its write bumps the names of its Article, which the old Post's entries do not depend on.
      const young = next(namespace);
      await liveInstances(redis, namespace, 1);
      await young.prisma.article.update({ where: { id: post.id }, data: { title: "written by the next version" } });
      await young.close();
      await until(async () => (await liveSchemas()) === 0, 10_000, 50);
      // Rolled back: before, the old version's entry was served from Redis.
      const back = current(namespace);
      await liveInstances(redis, namespace, 1);
      expect((await readPost(back)).map((each) => each.title)).toEqual(["written by the next version"]);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it("once the old version is gone, the next one caches as before", async () => {
    const { namespace, old, young, redis } = await bothVersions();
    try {
      const user = await young.base.user.create({ data: { emailAddress: email() } });
      await old.close();
      // The old schema's registration lapses a registration lifetime after its last heartbeat.
      await until(async () => (await redis.zcount(`{${namespace}}:schemas`, Date.now(), "+inf")) <= 1, 10_000, 50);
      await young.prisma.user.update({ where: { id: user.id }, data: { name: "alone" } });
      const read = () => young.prisma.user.findUnique({ where: { emailAddress: user.emailAddress } });
      expect((await read())?.name).toBe("alone");
      const queries = young.pool.queries;
      await young.prisma.user.update({ where: { id: user.id }, data: { name: "alone again" } });
      expect((await read())?.name).toBe("alone again");
      const afterWrite = young.pool.queries;
      expect((await read())?.name).toBe("alone again");
      expect(young.pool.queries, "served from the cache").toBe(afterWrite);
      expect(afterWrite).toBeGreaterThan(queries);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it("a write announced while both versions were live and confirmed after the old one left does not keep the next one from caching", async () => {
    const { namespace, old, young, redis } = await bothVersions();
    try {
      const user = await young.base.user.create({ data: { emailAddress: email(), name: "before" } });
      const other = await young.base.user.create({ data: { emailAddress: email(), name: "other" } });
      // Announced (marking the schema epoch: both versions live), then held in the database.
      const lock = await holdUserRowLock(young.base, user.id);
      const write = young.prisma.user.update({ where: { id: user.id }, data: { name: "after" } }).then((row) => row.name);
      await until(async () => (await lock.blocked()) === 1);
      await old.close();
      await until(async () => (await redis.zcount(`{${namespace}}:schemas`, Date.now(), "+inf")) <= 1, 10_000, 50);
      await lock.release();
      expect(await write).toBe("after");
      const read = () => young.prisma.user.findUnique({ where: { id: other.id } });
      expect((await read())?.name).toBe("other");
      const queries = young.pool.queries;
      expect((await read())?.name).toBe("other");
      expect(young.pool.queries, "served from the cache, not bypassed as a write in progress").toBe(queries);
      expect(young.prisma.$cache.stats().bypasses["write in progress"] ?? 0).toBe(0);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
