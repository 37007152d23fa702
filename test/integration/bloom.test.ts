import { randomUUID } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { applyMigrations, createDatabase, dropDatabase } from "../../scripts/migrations.ts";
import { CacheStoreError, cacheExtension, type CacheExtensionOptions } from "../../src/index.ts";
import { createRedis, uniqueNamespace } from "../helpers/client.ts";
import { routeCacheConnections } from "../helpers/connection-routes.ts";
import { CountingPool } from "../helpers/counting-pool.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { liveHeapBytes } from "../helpers/live-heap.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { FakeClock, seededRandom } from "../helpers/random.ts";
import { databaseUrl as workerDatabaseUrl } from "../helpers/databases.ts";
import { sleep, until } from "../helpers/wait.ts";

const ROWS = 100_000;

/** This file has a database of its own: 100 000 users would skew every other test's counts. */
describe("Bloom guard on unique fields", () => {
  const name = `pcs_bloom_${process.pid}_${Date.now()}`;
  const adminUrl = (() => {
    const url = new URL(workerDatabaseUrl());
    url.pathname = "/postgres";
    return url.toString();
  })();
  let databaseUrl: string;
  const redis = createRedis();
  const namespace = uniqueNamespace();
  const instances: Array<{ close(): Promise<void> }> = [];

  function instance(options: Partial<CacheExtensionOptions> = {}, connectionOptions = "") {
    const pool = new CountingPool({ connectionString: databaseUrl + connectionOptions, max: 4 });
    const base = new PrismaClient({ adapter: new PrismaPg(pool) });
    const prisma = base.$extends(cacheExtension({ redis, namespace, models: { User: { bloom: true }, Post: { bloom: true } }, ...options }));
    // $disconnect() leaves a pool passed to PrismaPg open: end it, or dropping the database kills its connections under it.
    let closed: Promise<void> | undefined;
    const handle = { pool, base, prisma, close: () => (closed ??= (async () => (await prisma.$cache.close(), await base.$disconnect(), await pool.end()))()) };
    instances.push(handle);
    return handle;
  }

  beforeAll(async () => {
    databaseUrl = await createDatabase(adminUrl, name);
    await applyMigrations(databaseUrl);
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`INSERT INTO "User" (email) SELECT 'user' || i || '@example.com' FROM generate_series(1, ${ROWS}) AS i`);
    await client.end();
  }, 120_000);
  afterAll(async () => {
    for (const handle of instances) await handle.close();
    redis.disconnect();
    await dropDatabase(adminUrl, name);
  });

  /** The most live heap (collected every 10 ms, so garbage does not count) above its level at the start while `work` ran. */
  async function peakHeapGrowthMb(work: () => Promise<unknown>): Promise<number> {
    const baseline = liveHeapBytes();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, liveHeapBytes())), 10);
    const result = await work();
    peak = Math.max(peak, liveHeapBytes());
    clearInterval(sampler);
    void result;
    return (peak - baseline) / 2 ** 20;
  }

  it("builds from 100 000 rows page by page, in bounded memory", async () => {
    const a = instance();
    // A client's first query instantiates Prisma's query compiler: not part of what is measured.
    await a.base.user.findMany({ select: { id: true, email: true }, take: 1 });
    const building = await peakHeapGrowthMb(() => a.prisma.$cache.rebuildBloom());
    // For scale: the same identities read in one query, as a naive build would.
    const wholeTable = await peakHeapGrowthMb(() => a.base.user.findMany({ select: { id: true, email: true } }));
    console.log(`bloom build over ${ROWS} rows: heap grew by at most ${building.toFixed(1)} MiB; reading them at once: ${wholeTable.toFixed(1)} MiB`);
    expect(building).toBeLessThan(wholeTable / 3);
    expect(a.prisma.$cache.stats().bloomBuilds).toBe(2);
    expect(a.pool.queries).toBeGreaterThanOrEqual(ROWS / 1_000);
  }, 60_000);

  it("another instance, and a restarted one, load the shared filter without scanning the table", async () => {
    for (const fresh of [instance(), instance()]) {
      await fresh.prisma.$cache.prepareBloom();
      expect(fresh.prisma.$cache.stats().bloomBuilds).toBe(0);
      expect(fresh.pool.queries, "no scan, no count").toBe(0);
      expect(await fresh.prisma.user.findUnique({ where: { email: "user77@example.com" } })).not.toBeNull();
    }
  });

  it("guards as soon as prepareBloom() resolves, on an instance whose subscriber link is slow (its lease comes a round trip after the subscription)", async () => {
    await instance().prisma.$cache.prepareBloom();
    const proxy = await delayingProxy(inject("redisUrl"), 400);
    const slowRedis = createRedis();
    routeCacheConnections(slowRedis, { subscriber: { host: "127.0.0.1", port: proxy.port } });
    const fresh = instance({ redis: slowRedis });
    try {
      await fresh.prisma.$cache.prepareBloom();
      expect(await fresh.prisma.user.findUnique({ where: { email: "never-seen-by-the-slow-one@example.com" } })).toBeNull();
      expect(fresh.prisma.$cache.stats().bloomRejects).toBe(1);
      expect(fresh.pool.queries, "no count, no scan, no read").toBe(0);
    } finally {
      await fresh.close();
      slowRedis.disconnect();
      proxy.close();
    }
  });

  it("prepareBloom() on a Redis that refuses writes (NOREPLICAS) gives up without waiting for a registration it refuses, naming why (outside probe 97)", async () => {
    const refusing = await ChaosRedis.start(["--min-replicas-to-write", "1"]);
    const redis = new Redis(refusing.url, { maxRetriesPerRequest: 1 });
    const fresh = instance({ redis, namespace: uniqueNamespace(), redisTimeout: 2_000, onError: () => {} });
    try {
      const waited = 20 * 2_000;
      const outcome = await Promise.race([
        fresh.prisma.$cache.prepareBloom().then(() => "resolved", (error: Error) => error),
        new Promise((resolve) => setTimeout(() => resolve("still waiting"), waited / 2).unref()),
      ]);
      expect(outcome).toBeInstanceOf(CacheStoreError);
      expect((outcome as Error).message).toMatch(/not verified yet .*NOREPLICAS/);
    } finally {
      await fresh.close();
      redis.disconnect();
      await refusing.stop();
    }
  }, 60_000);

  it("a Redis that went away reports the filter's refresh failures until the circuit opens, not once per model every second while it stays open (outside probe 166)", async () => {
    const server = await ChaosRedis.start();
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    const reports: Array<{ code: string; message: string }> = [];
    let fresh: ReturnType<typeof instance> | undefined;
    try {
      fresh = instance({ redis, namespace: uniqueNamespace(), redisTimeout: 200, circuitBreaker: { threshold: 3, probeInterval: 500 }, onError: (error) => reports.push(error as { code: string; message: string }) });
      await fresh.prisma.$cache.prepareBloom();
      await server.stop();
      // Reads of absent records keep asking for a usable filter while Redis is gone.
      const until = Date.now() + 4_000;
      for (let i = 0; Date.now() < until; i++) {
        await fresh.prisma.user.findUnique({ where: { email: `gone-${i}@example.com` } });
        await fresh.prisma.post.findUnique({ where: { id: 10_000_000 + i } });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(fresh.prisma.$cache.stats().circuitOpen).toBe(true);
      const refreshReports = reports.filter((report) => report.code === "E_BLOOM_REFRESH");
      expect(refreshReports.filter((report) => /circuit open/.test(report.message))).toEqual([]);
      // One per model at most: the failure that came before the circuit opened.
      expect(refreshReports.length).toBeLessThanOrEqual(2);
    } finally {
      await fresh?.close().catch(() => {});
      redis.disconnect();
      await server.stop().catch(() => {});
    }
  }, 60_000);

  it("5 000 lookups of absent ids and emails: at most 1% reach the database; a record created on another instance is found at once everywhere", async () => {
    const a = instance();
    const b = instance();
    const c = instance();
    await Promise.all([a, b, c].map((i) => i.prisma.$cache.prepareBloom()));
    const random = seededRandom(11);
    const absent = Array.from({ length: 5_000 }, (_, i) =>
      i % 2 === 0 ? { id: ROWS + 1_000 + Math.floor(random() * 10_000_000) } : { email: `absent-${Math.floor(random() * 1e9)}@example.com` },
    );
    for (const where of absent) expect(await b.prisma.user.findUnique({ where })).toBeNull();
    expect(b.pool.queries / absent.length).toBeLessThanOrEqual(0.01);
    expect(b.prisma.$cache.stats().bloomRejects).toBeGreaterThanOrEqual(absent.length * 0.99);
    // OrThrow is rejected with Prisma's own error.
    await expect(b.prisma.user.findUniqueOrThrow({ where: { email: "absent-never@example.com" } })).rejects.toMatchObject({ code: "P2025" });

    const email = (absent[1] as { email: string }).email;
    await a.prisma.user.create({ data: { email } });
    for (const i of [a, b, c]) expect((await i.prisma.user.findUnique({ where: { email } }))?.email).toBe(email);
  }, 60_000);

  it("answers 'absent' only for reads Prisma certainly accepts: one it would refuse gets Prisma's error, as for a record that exists (outside probe 79)", async () => {
    const guarded = instance();
    await guarded.prisma.$cache.prepareBloom();
    const read = (args: object) => (guarded.prisma.user.findUnique as (args: unknown) => Promise<unknown>)(args);
    const where = { email: "absent-refused@example.com" };
    const refused: object[] = [
      { where, select: {} },
      { where, select: { id: false } },
      { where, select: { nosuch: true } },
      { where, select: { id: true }, include: { posts: true } },
      { where, select: { id: true }, omit: { email: true } },
      { where, include: { posts: { take: "2" } } },
      { where, include: { email: true } },
      { where, omit: { nosuch: true } },
      { where, take: 1 },
      // Found by outside probe 81: an omit of every field, a null beside the unique value.
      { where, omit: { id: true, email: true, name: true, role: true, balance: true, visits: true, score: true, active: true, avatar: true, profile: true, createdAt: true, version: true } },
      { where: { ...where, id: null } },
      // Found by outside probe 168: values beside the unique one that Prisma refuses, and an unknown member set to undefined.
      { where: { ...where, name: 5 } },
      { where: { ...where, id: "abc" } },
      { where: { ...where, version: { gt: "x" } } },
      { where: { ...where, name: { nope: "x" } } },
      { where: { ...where, OR: 5 } },
      { where: { ...where, role: "NOPE" } },
      { where: { ...where, balance: "abc" } },
      { where: { ...where, createdAt: "notadate" } },
      { where: { ...where, active: "yes" } },
      { where, select: { id: true, nosuch: undefined } },
      // Found by outside probe 171: a bigint for a Decimal.
      { where: { ...where, balance: 5n } },
    ];
    for (const args of refused) await expect(read(args), JSON.stringify(args, (_key, value) => (typeof value === "bigint" ? String(value) : value))).rejects.toMatchObject({ name: "PrismaClientValidationError" });
    // And values the database refuses (P2020, P2039): out of numeric's range, a timestamp before year 1 or after 9999 in UTC.
    for (const value of [{ balance: "1e150000" }, { balance: "1e-20000" }, { createdAt: new Date("-000100-01-01T00:00:00Z") }, { createdAt: "9999-12-31T23:59:59.999-14:00" }]) {
      await expect(read({ where: { ...where, ...value } }), JSON.stringify(value)).rejects.toMatchObject({ name: "PrismaClientKnownRequestError" });
    }
    await expect((guarded.prisma.user.findUniqueOrThrow as (args: unknown) => Promise<unknown>)({ where, select: { nosuch: true } })).rejects.toMatchObject({ name: "PrismaClientValidationError" });
    await expect((guarded.prisma.user.findUniqueOrThrow as (args: unknown) => Promise<unknown>)({ where: { ...where, name: 5 } })).rejects.toMatchObject({ name: "PrismaClientValidationError" });
    const post = (args: object) => (guarded.prisma.post.findUnique as (args: unknown) => Promise<unknown>)(args);
    const absentPost = { authorId_slug: { authorId: ROWS + 7, slug: "absent" } };
    for (const args of [{ where: { ...absentPost, published: "yes" } }, { where: { authorId_slug: { ...absentPost.authorId_slug, extra: 1 } } }, { where: { authorId_slug: { authorId: "7", slug: "absent" } } }]) {
      await expect(post(args), JSON.stringify(args)).rejects.toMatchObject({ name: "PrismaClientValidationError" });
    }
    // Selections of the model's own fields, and other members Prisma takes, are still answered at once.
    const rejects = guarded.prisma.$cache.stats().bloomRejects;
    const answered = [
      { where },
      { where, select: { id: true, posts: true } },
      { where, include: { posts: true, _count: true } },
      { where, omit: { name: true } },
      { where, select: undefined, take: undefined },
      { where: { ...where, role: "ADMIN", active: true, version: 3, name: undefined } },
      { where: { ...where, balance: "1.5", visits: 7n, score: 0.5, createdAt: new Date() } },
    ];
    for (const args of answered) expect(await read(args), JSON.stringify(args, (_key, value) => (typeof value === "bigint" ? String(value) : value))).toBeNull();
    expect(await post({ where: { ...absentPost, published: false } })).toBeNull();
    expect(guarded.prisma.$cache.stats().bloomRejects - rejects).toBe(answered.length + 1);
  });

  /** The Redis keys of the User filter built in `ns`: its live metadata and its build lock. */
  async function userFilterKeys(ns: string): Promise<{ liveMeta: string; lockKey: string }> {
    const [liveMeta] = (await redis.keys(`*${ns}*:bloom:User:*`)).filter((key) => /:bloom:User:[^:]+$/.test(key));
    expect(liveMeta, "the built filter's metadata").toBeDefined();
    return { liveMeta: liveMeta!, lockKey: `${liveMeta}:lock` };
  }

  /** Prepares `handle`'s User filter in `ns`, and returns its keys. */
  async function preparedUserFilter(ns: string, handle: ReturnType<typeof instance>): Promise<{ liveMeta: string; lockKey: string }> {
    await handle.prisma.$cache.prepareBloom();
    return userFilterKeys(ns);
  }

  it("rows written outside the extension are invisible until rebuild; nested creates suspend the filter", async () => {
    const a = instance();
    await a.prisma.$cache.prepareBloom();
    const email = `outside-${randomUUID()}@example.com`;
    await a.base.$executeRawUnsafe(`INSERT INTO "User" (email) VALUES ('${email}')`);
    expect(await a.prisma.user.findUnique({ where: { email } }), "the documented trade-off").toBeNull();
    await a.prisma.$cache.rebuildBloom("User");
    expect((await a.prisma.user.findUnique({ where: { email } }))?.email).toBe(email);

    const user = await a.prisma.user.findUniqueOrThrow({ where: { email: "user5@example.com" } });
    await a.prisma.$cache.prepareBloom();
    const slug = `nested-${randomUUID()}`;
    await a.prisma.user.update({ where: { id: user.id }, data: { posts: { create: { slug, title: "t" } } } });
    const created = await a.prisma.post.findUnique({ where: { authorId_slug: { authorId: user.id, slug } } });
    expect(created?.slug).toBe(slug);
    expect(await a.prisma.post.findUnique({ where: { id: created!.id } })).not.toBeNull();
  }, 60_000);

  it("instances preparing the filter together each guard once prepareBloom() resolves: one builds, the others wait for its filter", async () => {
    const ns = uniqueNamespace();
    const fleet = [0, 1, 2].map(() => instance({ namespace: ns, models: { User: { bloom: true } } }));
    await Promise.all(fleet.map((member) => member.prisma.$cache.prepareBloom()));
    expect(fleet.map((member) => member.prisma.$cache.stats().bloomBuilds).reduce((sum, builds) => sum + builds, 0), "one build for the fleet").toBe(1);
    for (const member of fleet) {
      expect(await member.prisma.user.findUnique({ where: { email: `absent-${randomUUID()}@example.com` } })).toBeNull();
      expect(member.prisma.$cache.stats().bloomRejects, "answered by its filter").toBe(1);
    }
  }, 60_000);

  it("rebuildBloom() on one instance reaches the filters other instances hold, also when another instance held the build lock (outside probe 221: another process answered 'not found' until maxAge)", async () => {
    const a = instance();
    const b = instance();
    await a.prisma.$cache.prepareBloom();
    await b.prisma.$cache.prepareBloom();
    const email = `rebuilt-elsewhere-${randomUUID()}@example.com`;
    expect(await b.prisma.user.findUnique({ where: { email } })).toBeNull();
    expect(b.prisma.$cache.stats().bloomRejects, "answered by B's filter").toBe(1);
    await a.base.$executeRawUnsafe(`INSERT INTO "User" (email) VALUES ('${email}')`);
    await a.prisma.$cache.rebuildBloom("User");
    expect((await b.prisma.user.findUnique({ where: { email } }))?.email, "another instance's copy after the rebuild").toBe(email);

    // Another instance holds the build lock, extending it as a live builder does: the rebuild waits
    // for it, then builds or adopts.
    const { lockKey } = await userFilterKeys(namespace);
    await redis.set(lockKey, "someone-else", "PX", 60_000);
    const heartbeat = setInterval(() => void redis.pexpire(lockKey, 60_000), 100);
    const second = `rebuilt-after-lock-${randomUUID()}@example.com`;
    expect(await b.prisma.user.findUnique({ where: { email: second } })).toBeNull();
    await a.base.$executeRawUnsafe(`INSERT INTO "User" (email) VALUES ('${second}')`);
    let settled = false;
    const rebuilt = a.prisma.$cache.rebuildBloom("User").finally(() => (settled = true));
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(settled, "resolved while another instance held the build lock").toBe(false);
      expect((await b.prisma.user.findUnique({ where: { email: second } }))?.email, "suspended meanwhile").toBe(second);
    } finally {
      clearInterval(heartbeat);
    }
    await redis.del(lockKey);
    await rebuilt;
    // B adopts the new filter (each probe a new absent email: a cached "not found" never reaches the guard).
    const rejects = b.prisma.$cache.stats().bloomRejects;
    await until(async () => (await b.prisma.user.findUnique({ where: { email: `absent-${randomUUID()}@example.com` } }), b.prisma.$cache.stats().bloomRejects > rejects), 10_000, 100);
    expect((await b.prisma.user.findUnique({ where: { email: second } }))?.email, "the rebuilt filter").toBe(second);
  }, 60_000);

  it("a build lock whose holder stopped extending it (a killed builder) is not waited for until it expires, and close() during a build releases the lock (outside probe 222: waits of 55-65 s)", async () => {
    const ns = uniqueNamespace();
    const a = instance({ namespace: ns, models: { User: { bloom: true } } });
    const { liveMeta, lockKey } = await preparedUserFilter(ns, a);
    await redis.set(lockKey, "killed-builder", "PX", 60_000);
    await a.prisma.$cache.rebuildBloom("User");
    expect(await redis.pttl(lockKey), "resolved before the dead builder's lock expired").toBeGreaterThan(0);
    await redis.del(lockKey);

    const builder = instance({ namespace: ns, models: { User: { bloom: true } } });
    const rebuilding = builder.prisma.$cache.rebuildBloom("User").then(() => "resolved", (error: unknown) => error);
    await until(async () => (await redis.exists(lockKey)) === 1, 20_000, 5);
    await builder.prisma.$cache.close();
    expect(await redis.exists(lockKey), "the build lock, released by close()").toBe(0);
    expect(await rebuilding).toMatchObject({ code: "E_CLOSED" });
    // Another instance builds at once.
    await a.prisma.$cache.rebuildBloom("User");
    expect(a.prisma.$cache.stats().bloomBuilds).toBeGreaterThanOrEqual(2);

    // close() at any moment of a rebuild, the lock being asked for included, leaves no lock behind (outside probe 266: 12 of 12 closes left it 60 s).
    for (const delayMs of [0, 2, 10, 40, 150]) {
      const closing = instance({ namespace: ns, models: { User: { bloom: true } } });
      await closing.prisma.$cache.prepareBloom();
      const rebuilt = closing.prisma.$cache.rebuildBloom("User").catch(() => undefined);
      await sleep(delayMs);
      await closing.prisma.$cache.close();
      // Checked as close() resolves (the process may exit then), and once the rebuild settled.
      expect(await redis.exists(lockKey), `the build lock as a close ${delayMs} ms into a rebuild resolved`).toBe(0);
      await rebuilt;
      await sleep(300);
      expect(await redis.exists(lockKey), `the build lock after a close ${delayMs} ms into a rebuild`).toBe(0);
    }
  }, 90_000);

  it("a builder whose lock passed to another builder mid-scan (it stalled past the lock's lifetime) publishes nothing (outside probe 228: its old scan replaced the next builder's filter, 3 000 of 3 000 rows 'not found')", async () => {
    const ns = uniqueNamespace();
    const a = instance({ namespace: ns, models: { User: { bloom: true } } });
    const { liveMeta, lockKey } = await preparedUserFilter(ns, a);
    const builtBefore = await redis.hget(liveMeta, "built");
    const rebuilding = a.prisma.$cache.rebuildBloom("User");
    await until(async () => (await redis.exists(lockKey)) === 1, 20_000, 2);
    // Its lock expired and another builder took it (which then stops extending it: not waited for).
    await redis.set(lockKey, "the-next-builder", "PX", 60_000);
    await rebuilding;
    expect(await redis.hget(liveMeta, "built"), "the live filter is not the stalled builder's").toBe(builtBefore);
    expect(await redis.get(lockKey), "nor did it release or extend the next builder's lock").toBe("the-next-builder");
    expect((await redis.keys(`*${ns}*:scanned*`)).length, "its scanned bits dropped").toBe(0);
  }, 60_000);

  it("rebuildBloom() and prepareBloom() racing on one instance, creates landing meanwhile: no call fails, and every created record is found (outside probe 106: 12 of 40 calls rejected with a TypeError)", async () => {
    const a = instance({ models: { Post: { bloom: true } } });
    const writer = instance({ models: { Post: { bloom: true } } });
    await a.prisma.$cache.prepareBloom();
    const author = await a.base.user.findUniqueOrThrow({ where: { email: "user7@example.com" } });
    const failures: string[] = [];
    const slugs: string[] = [];
    for (let i = 0; i < 20; i++) {
      const slug = `raced-${i}-${randomUUID()}`;
      slugs.push(slug);
      const rebuilt = a.prisma.$cache.rebuildBloom("Post").catch((error: Error) => failures.push(`rebuild: ${error.name}: ${error.message}`));
      const created = writer.prisma.post.create({ data: { slug, title: "t", authorId: author.id } });
      await sleep(i % 5);
      const prepared = a.prisma.$cache.prepareBloom().catch((error: Error) => failures.push(`prepare: ${error.name}: ${error.message}`));
      await Promise.all([rebuilt, created, prepared]);
    }
    expect(failures).toEqual([]);
    for (const slug of slugs) expect((await a.prisma.post.findUnique({ where: { authorId_slug: { authorId: author.id, slug } } }))?.slug, slug).toBe(slug);
  }, 60_000);

  it("one filter per database: a create by a client with other connection options, omit or hooks reaches the filter an instance loads afterwards", async () => {
    const guarded = instance();
    await guarded.prisma.$cache.prepareBloom();
    const email = `other-service-${randomUUID()}@example.com`;
    await instance({}, "?application_name=another-service").prisma.user.create({ data: { email } });
    const late = instance();
    await late.prisma.$cache.prepareBloom();
    expect((await late.prisma.user.findUnique({ where: { email } }))?.email).toBe(email);
  }, 60_000);

  it("instances that do not guard a model still keep the fleet's filter whole (a rolling deploy turning bloom on): creates, bulk creates, nested creates", async () => {
    const unguarded = instance({ models: { User: true, Post: true } });
    const guarded = instance();
    await guarded.prisma.$cache.prepareBloom();
    const users = [0, 1].map(() => ({ email: `unguarded-${randomUUID()}@example.com` }));
    await unguarded.prisma.user.create({ data: users[0]! });
    await unguarded.prisma.user.createMany({ data: [users[1]!] });
    const author = await unguarded.prisma.user.findUniqueOrThrow({ where: users[0]! });
    const slug = `unguarded-nested-${randomUUID()}`;
    await unguarded.prisma.user.update({ where: { id: author.id }, data: { posts: { create: { slug, title: "t" } } } });
    // An instance that loads the shared filter only now, and the one that held it all along.
    const late = instance();
    await late.prisma.$cache.prepareBloom();
    for (const [name, reader] of [["guarded all along", guarded], ["loaded afterwards", late]] as const) {
      for (const where of users) expect((await reader.prisma.user.findUnique({ where }))?.email, `${name}: ${where.email}`).toBe(where.email);
      expect((await reader.prisma.post.findUnique({ where: { authorId_slug: { authorId: author.id, slug } } }))?.slug, `${name}: nested`).toBe(slug);
    }
  }, 60_000);

  it("warm() and topQueries() leave out lookups the Bloom guard answers: their replays cache nothing (outside probe 221: counted warmed, ranked second)", async () => {
    const ns = uniqueNamespace();
    const unguarded = instance({ namespace: ns, models: { User: true } });
    const absent = `never-${randomUUID()}@example.com`;
    for (let i = 0; i < 5; i++) expect(await unguarded.prisma.user.findUnique({ where: { email: absent } })).toBeNull();
    expect(await unguarded.prisma.user.findUnique({ where: { email: "user3@example.com" } })).not.toBeNull();
    await unguarded.prisma.$cache.drain();
    const guarded = instance({ namespace: ns, models: { User: { bloom: true } } });
    await guarded.prisma.$cache.prepareBloom();
    expect(await guarded.prisma.$cache.warm({ top: 2 })).toMatchObject({ warmed: 1, skipped: 1, skippedBy: { "answered by the Bloom guard": 1 } });
    const other = `never-either-${randomUUID()}@example.com`;
    for (let i = 0; i < 10; i++) expect(await guarded.prisma.user.findUnique({ where: { email: other } })).toBeNull();
    expect(guarded.prisma.$cache.stats().bloomRejects).toBeGreaterThanOrEqual(10);
    await guarded.prisma.$cache.drain();
    const top = await guarded.prisma.$cache.topQueries({ limit: 10 });
    expect(top.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(top)).not.toContain(other);
    // Once the record exists, its reads count again (outside probe 222: never recorded again by that process).
    await guarded.prisma.user.create({ data: { email: other } });
    for (let i = 0; i < 20; i++) expect((await guarded.prisma.user.findUnique({ where: { email: other } }))?.email).toBe(other);
    await guarded.prisma.$cache.drain();
    expect(JSON.stringify(await guarded.prisma.$cache.topQueries({ limit: 10 }))).toContain(other);
  }, 60_000);

  it("warm() at deploy builds the filters (once for the fleet), then guards at once", async () => {
    const fresh = instance({ namespace: uniqueNamespace() });
    await fresh.prisma.$cache.warm();
    expect(fresh.prisma.$cache.stats().bloomBuilds).toBe(2);
    const before = fresh.pool.queries;
    expect(await fresh.prisma.user.findUnique({ where: { email: "never-signed-up@example.com" } })).toBeNull();
    expect(fresh.pool.queries).toBe(before);
  }, 60_000);

  /** The keys of `model`'s shared filter in `namespace` (meta, bits, scanned bits…), found by pattern. */
  async function filterKeys(ns: string, model: string): Promise<string[]> {
    return (await redis.keys(`*${ns}*:bloom:${model}:*`)).sort();
  }

  /** A new instance of `ns` finds no filter to load: it builds one, and finds the seeded users `user<i>@example.com`. */
  async function expectFreshInstanceBuildsAndFinds(ns: string, seeded: number[]): Promise<void> {
    const fresh = instance({ namespace: ns, models: { User: { bloom: true } } });
    await fresh.prisma.$cache.prepareBloom();
    expect(fresh.prisma.$cache.stats().bloomBuilds).toBe(1);
    for (const i of seeded) expect((await fresh.prisma.user.findUnique({ where: { email: `user${i}@example.com` } }))?.email).toBe(`user${i}@example.com`);
  }

  it("a rebuild whose scanned bits Redis evicted before they were merged is dropped, not published (outside probe 135: every existing row read 'not found')", async () => {
    const ns = uniqueNamespace();
    const builder = instance({ namespace: ns, models: { User: { bloom: true } } });
    // Eviction, staged: the scanned bits vanish between their store and the script that merges them.
    const original = Redis.prototype.sendCommand;
    let evicted = 0;
    Redis.prototype.sendCommand = function (this: Redis, command: Parameters<Redis["sendCommand"]>[0], stream?: Parameters<Redis["sendCommand"]>[1]) {
      const scanned = command.name.toLowerCase().startsWith("eval") ? command.args.map(String).find((arg) => arg.includes(":scanned:")) : undefined;
      if (scanned !== undefined) {
        evicted++;
        original.call(this, new Redis.Command("del", [scanned]), stream);
      }
      return original.call(this, command, stream);
    } as Redis["sendCommand"];
    let rebuild: unknown;
    try {
      rebuild = await builder.prisma.$cache.rebuildBloom("User").then(() => "resolved", (error: unknown) => error);
    } finally {
      Redis.prototype.sendCommand = original;
    }
    expect(evicted).toBe(1);
    expect(rebuild).toMatchObject({ code: "E_BLOOM_BUILD", message: expect.stringMatching(/evicted/) });
    expect(await filterKeys(ns, "User"), "nothing published, nothing left behind").toEqual([]);
    await expectFreshInstanceBuildsAndFinds(ns, [1, 500, 99_999]);
  }, 60_000);

  it("a live filter whose bits Redis evicted is dropped by the next create, never grown back from later creates alone (outside probe 135)", async () => {
    const ns = uniqueNamespace();
    const a = instance({ namespace: ns, models: { User: { bloom: true } } });
    await a.prisma.$cache.prepareBloom();
    const keys = await filterKeys(ns, "User");
    const bits = keys.find((key) => key.endsWith(":bits") && !key.includes(":next"))!;
    expect(bits).toBeDefined();
    await redis.del(bits);
    await a.prisma.user.create({ data: { email: `after-eviction-${randomUUID()}@example.com` } });
    // Before: the create's SETBITs made a new, short bits key under the old metadata; enough creates made it full length, and trusted.
    expect(await redis.exists(bits), "no bits key grown from one create").toBe(0);
    expect(await filterKeys(ns, "User"), "its metadata dropped: no filter stands").toEqual([]);
    await expectFreshInstanceBuildsAndFinds(ns, [2, 600, 99_998]);
  }, 60_000);

  it("a table that outgrows its filter gets a new one, sized for it, before maxAge (outside probe 136: 15 % of absent keys reached the database instead of 1 %)", async () => {
    const ns = uniqueNamespace();
    const a = instance({ namespace: ns, models: { Post: { bloom: true } } });
    await a.prisma.$cache.prepareBloom();
    const author = await a.base.user.findUniqueOrThrow({ where: { email: "user9@example.com" } });
    const builds = a.prisma.$cache.stats().bloomBuilds;
    // The filter is sized for at least 1 000 identities; each post has two (its id, its author and slug).
    for (let i = 0; i < 900; i++) await a.prisma.post.create({ data: { slug: `outgrown-${i}-${randomUUID()}`, title: "t", authorId: author.id } });
    await until(() => a.prisma.$cache.stats().bloomBuilds > builds, 20_000);
    const before = a.pool.queries;
    for (let i = 0; i < 500; i++) await a.prisma.post.findUnique({ where: { id: 2_000_000_000 - i } });
    const reached = a.pool.queries - before;
    console.log(`outgrown filter: rebuilt ${a.prisma.$cache.stats().bloomBuilds - builds} time(s); ${reached} of 500 absent ids reached the database`);
    expect(reached).toBeLessThanOrEqual(15);
  }, 60_000);

  it("a filter older than maxAge is not trusted", async () => {
    const clock = new FakeClock(Date.now());
    const a = instance({ clock, models: { User: { bloom: { maxAge: 60 } } } });
    await a.prisma.$cache.prepareBloom();
    await a.prisma.user.findUnique({ where: { email: "stale-age@example.com" } });
    const rejects = a.prisma.$cache.stats().bloomRejects;
    expect(rejects).toBe(1);
    clock.advance(61_000);
    const before = a.pool.queries;
    await a.prisma.user.findUnique({ where: { email: "stale-age-2@example.com" } });
    expect(a.prisma.$cache.stats().bloomRejects).toBe(rejects);
    expect(a.pool.queries).toBeGreaterThan(before);
  });

  /** Reads a row created outside the extension until the guard stops answering "not found" for it. */
  async function untilFound(handle: ReturnType<typeof instance>, email: string): Promise<void> {
    await until(async () => (await handle.prisma.user.findUnique({ where: { email } })) !== null, 20_000, 100);
  }

  it("a filter's age is read on Redis's clock: a builder whose clock runs 10 minutes ahead stretches no other instance's maxAge (outside probe 234)", async () => {
    const ns = uniqueNamespace();
    const models = { User: { bloom: { maxAge: 2 } } };
    const builder = instance({ namespace: ns, models, clock: { now: () => Date.now() + 600_000 } });
    const reader = instance({ namespace: ns, models });
    await builder.prisma.$cache.prepareBloom();
    await reader.prisma.$cache.prepareBloom();
    expect(reader.prisma.$cache.stats().bloomBuilds).toBe(0); // adopted the builder's filter
    const email = `created-outside-${randomUUID()}@example.com`;
    await reader.base.user.create({ data: { email } });
    // "Not found" until the filter is maxAge old, as documented; before, until the builder's lead had passed too.
    await untilFound(reader, email);
  }, 60_000);

  it("a filter dated ahead of Redis's clock (built by the previous version on a clock running ahead) is rebuilt, not taken as new (outside probe 238: adopted again at every maxAge until its keys expired)", async () => {
    const ns = uniqueNamespace();
    const models = { User: { bloom: { maxAge: 3_600 } } };
    const { liveMeta } = await preparedUserFilter(ns, instance({ namespace: ns, models }));
    const [seconds] = await redis.time();
    await redis.hset(liveMeta, "at", String((Number(seconds) + 600) * 1000));
    const email = `created-outside-${randomUUID()}@example.com`;
    const reader = instance({ namespace: ns, models });
    await reader.base.user.create({ data: { email } });
    await reader.prisma.$cache.prepareBloom();
    expect(reader.prisma.$cache.stats().bloomBuilds).toBe(1);
    expect((await reader.prisma.user.findUnique({ where: { email } }))?.email).toBe(email);
  }, 60_000);

  it("a filter's age survives a wall clock stepped back: it is distrusted at maxAge on the monotonic clock (outside probe 234)", async () => {
    const clock = new FakeClock(Date.now());
    const a = instance({ namespace: uniqueNamespace(), clock, models: { User: { bloom: { maxAge: 2 } } } });
    await a.prisma.$cache.prepareBloom();
    clock.advance(-600_000);
    const email = `created-outside-${randomUUID()}@example.com`;
    await a.base.user.create({ data: { email } });
    await untilFound(a, email);
  }, 60_000);
});
