import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { Prisma, PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { createBaseClient, createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { LostReplyProxy } from "../helpers/lost-reply-proxy.ts";
import { seedUser } from "../helpers/seed.ts";
import { databaseUrl } from "../helpers/databases.ts";

/**
 * Writes that fail without the database saying it refused them (found by an outside probe): a
 * reply lost after the commit, a client-side timeout while the server still runs the statement.
 * Plain Prisma rejects too, and then reads what committed; so must every cached client.
 */
/** Retries a write once, unless Prisma refused it (the usual retry-on-connection-error extension). */
const retryOnce = Prisma.defineExtension({
  name: "retry-once",
  query: {
    user: {
      async delete({ args, query }) {
        try {
          return await query(args);
        } catch (error) {
          if (String((error as { code?: unknown }).code ?? "").startsWith("P2")) throw error;
          return query(args);
        }
      },
    },
  },
});

/** Rejects a write after 100 ms and runs it anyway at 300 ms (a concurrency limiter behind a timeout). */
const giveUpThenRun = Prisma.defineExtension({
  name: "give-up-then-run",
  query: {
    user: {
      update: ({ args, query }) =>
        new Promise((_resolve, reject) => {
          setTimeout(() => reject(new Error("the hook gave up waiting")), 100);
          setTimeout(() => void Promise.resolve(query(args)).catch(() => {}), 300);
        }) as never,
    },
  },
});

/** Short, so a test sees the models cached again once it passed. */
const LATE_COMMIT_WINDOW_S = 2;

describe("a write whose outcome the client does not know", () => {
  const namespace = uniqueNamespace();
  const redis = createRedis();
  const database = new URL(databaseUrl());
  let proxy: LostReplyProxy;
  const pools: pg.Pool[] = [];
  const clients: PrismaClient[] = [];
  const cached = (pool: pg.Pool, options: { l1?: false } = {}, below: (base: PrismaClient) => PrismaClient = (base) => base) => {
    pools.push(pool);
    const base = new PrismaClient({ adapter: new PrismaPg(pool) });
    clients.push(base);
    return below(base).$extends(cacheExtension({ namespace, redis, models: { User: true, Post: true }, lateCommitWindow: LATE_COMMIT_WINDOW_S, ...options }));
  };
  const { base: plain } = createBaseClient();
  let writer: ReturnType<typeof cached>;
  let timingOut: ReturnType<typeof cached>;
  let readers: Array<ReturnType<typeof cached>>;
  /** Through the proxy, below a hook that retries a write once on anything but Prisma's own refusals. */
  let retrying: ReturnType<typeof cached>;
  /** Below a hook that gives up on a write after 100 ms but still runs it at 300 ms (a limiter behind a timeout). */
  let deferring: ReturnType<typeof cached>;

  beforeAll(async () => {
    proxy = await LostReplyProxy.start(Number(database.port || 5432));
    const throughProxy = new URL(database);
    throughProxy.port = String(proxy.port);
    writer = cached(new pg.Pool({ connectionString: throughProxy.toString(), max: 2 }));
    // A client-side timeout: pg gives up on the statement, PostgreSQL keeps running it.
    timingOut = cached(new pg.Pool({ connectionString: database.toString(), max: 2, query_timeout: 300 }));
    readers = [cached(new pg.Pool({ connectionString: database.toString(), max: 2 })), cached(new pg.Pool({ connectionString: database.toString(), max: 2 }), { l1: false })];
    retrying = cached(new pg.Pool({ connectionString: throughProxy.toString(), max: 2 }), {}, (base) => base.$extends(retryOnce) as never);
    deferring = cached(new pg.Pool({ connectionString: database.toString(), max: 2 }), {}, (base) => base.$extends(giveUpThenRun) as never);
  });
  afterAll(async () => {
    for (const client of [writer, timingOut, ...readers, retrying, deferring]) await client.$cache.close();
    for (const client of clients) await client.$disconnect();
    await Promise.all(pools.map((pool) => pool.end().catch(() => {})));
    await plain.$disconnect();
    await proxy.stop();
    redis.disconnect();
  });

  const everyone = () => [writer, timingOut, ...readers];
  /** Reads twice on every instance, so each holds the value in L1 or Redis. */
  const cacheEverywhere = async (read: (client: ReturnType<typeof cached>) => Promise<unknown>) => {
    for (const client of everyone()) {
      await read(client);
      await read(client);
    }
  };

  it("a reply lost after the commit: reads by another unique key see the update, and a delete", async () => {
    const user = await seedUser(plain);
    const byId = (client: ReturnType<typeof cached>) => client.user.findUnique({ where: { id: user.id } });
    await cacheEverywhere(byId);
    const lost = proxy.arm((text) => text.includes("UPDATE") && text.includes("User"));
    await expect(writer.user.update({ where: { email: user.email }, data: { name: "committed, reply lost" } })).rejects.toThrow();
    await lost;
    expect((await plain.user.findUnique({ where: { id: user.id } }))?.name).toBe("committed, reply lost");
    for (const client of everyone()) expect((await byId(client))?.name).toBe("committed, reply lost");

    const count = (client: ReturnType<typeof cached>) => client.post.count({ where: { authorId: user.id } });
    await cacheEverywhere(count);
    const lostDelete = proxy.arm((text) => text.includes("DELETE") && text.includes("User"));
    await expect(writer.user.delete({ where: { email: user.email } })).rejects.toThrow();
    await lostDelete;
    expect(await plain.user.findUnique({ where: { id: user.id } })).toBeNull();
    for (const client of everyone()) {
      expect(await byId(client)).toBeNull();
      expect(await count(client)).toBe(0);
    }
  });

  // The cache's own batch, and a batch of the client below it with the cache's write in it.
  const batches = {
    "a batch transaction": (update: Prisma.PrismaPromise<unknown>) => writer.$transaction([update as never, writer.post.count()]),
    "a batch of the client below the cache": (update: Prisma.PrismaPromise<unknown>) => clients[0]!.$transaction([update as never, clients[0]!.post.count()]),
  };
  for (const [label, runBatch] of Object.entries(batches)) {
    it(`${label} whose COMMIT reply is lost: reads by another unique key see the cache's write in it`, async () => {
      const user = await seedUser(plain);
      const byId = (client: ReturnType<typeof cached>) => client.user.findUnique({ where: { id: user.id } });
      await cacheEverywhere(byId);
      const lost = proxy.arm((text) => text.includes("COMMIT"));
      await expect(runBatch(writer.user.update({ where: { email: user.email }, data: { name: `${label} committed` } }))).rejects.toThrow();
      await lost;
      expect((await plain.user.findUnique({ where: { id: user.id } }))?.name).toBe(`${label} committed`);
      for (const client of everyone()) expect((await byId(client))?.name).toBe(`${label} committed`);
    });
  }

  it("a write another extension's hook retried: the first attempt committed (its reply lost), the retry found nothing to delete", async () => {
    const user = await seedUser(plain);
    const byId = (client: ReturnType<typeof cached>) => client.user.findUnique({ where: { id: user.id } });
    await cacheEverywhere(byId);
    const lost = proxy.arm((text) => text.includes("DELETE") && text.includes("User"));
    await expect(retrying.user.delete({ where: { email: user.email } })).rejects.toMatchObject({ code: "P2025" });
    await lost;
    expect(await plain.user.findUnique({ where: { id: user.id } })).toBeNull();
    for (const client of everyone()) expect(await byId(client)).toBeNull();
  });

  it("a write another extension's hook gave up on before it ran, then ran: reads see its late commit", async () => {
    const user = await seedUser(plain);
    const byId = (client: ReturnType<typeof cached>) => client.user.findUnique({ where: { id: user.id } });
    await cacheEverywhere(byId);
    await expect(deferring.user.update({ where: { id: user.id }, data: { name: "run after giving up" } })).rejects.toThrow(/gave up/);
    // Before it runs, reads load the row as it still is.
    for (const client of everyone()) expect((await byId(client))?.name).toBe(user.name);
    for (let waited = 0; (await plain.user.findUnique({ where: { id: user.id } }))?.name !== "run after giving up"; waited += 20) {
      if (waited > 5000) throw new Error("the deferred write never ran");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const client of everyone()) expect((await byId(client))?.name).toBe("run after giving up");
  });

  it("a client-side timeout: the statement commits after the write rejected, and reads see it", async () => {
    const user = await seedUser(plain);
    const byEmail = (client: ReturnType<typeof cached>) => client.user.findUnique({ where: { email: user.email } });
    const list = (client: ReturnType<typeof cached>) => client.user.findMany({ where: { id: user.id } });
    await cacheEverywhere(byEmail);
    await cacheEverywhere(list);
    const locker = new pg.Client({ connectionString: database.toString() });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query(`SELECT id FROM "User" WHERE id = $1 FOR UPDATE`, [user.id]);
      await expect(timingOut.user.update({ where: { id: user.id }, data: { name: "committed late" } })).rejects.toThrow(/timeout/i);
      // While the statement waits for the row lock, reads load the row as it still is.
      for (const client of everyone()) expect((await byEmail(client))?.name).toBe(user.name);
      await locker.query("COMMIT");
    } finally {
      await locker.end();
    }
    for (let waited = 0; (await plain.user.findUnique({ where: { id: user.id } }))?.name !== "committed late"; waited += 20) {
      if (waited > 5000) throw new Error("the late statement never committed");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const client of everyone()) {
      expect((await byEmail(client))?.name).toBe("committed late");
      expect((await list(client))[0]?.name).toBe("committed late");
    }
    // The models are read from the database only for lateCommitWindow: then they are cached again.
    const reader = readers[0]!;
    const cachedRead = async () => {
      const hits = reader.$cache.stats().hits;
      await byEmail(reader);
      return reader.$cache.stats().hits > hits;
    };
    expect(await cachedRead()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, LATE_COMMIT_WINDOW_S * 1000 + 300));
    await byEmail(reader);
    expect(await cachedRead()).toBe(true);
  });
});

describe("a write the database refused", () => {
  it("a Serializable transaction that loses a write skew at COMMIT (Prisma passes the adapter's error on bare) rolled back: reads are cached again at once (found by an outside probe)", async () => {
    const namespace = uniqueNamespace();
    const writer = createCachedClient({ namespace });
    const reader = createCachedClient({ namespace });
    try {
      const [a, b, bystander] = [await seedUser(writer.base), await seedUser(writer.base), await seedUser(writer.base)];
      let [arrived, updated] = [0, 0];
      let [bothRead, bothUpdated] = [() => {}, () => {}];
      const read = new Promise<void>((resolve) => (bothRead = resolve));
      const written = new Promise<void>((resolve) => (bothUpdated = resolve));
      // Each reads both rows, then writes one: the second to commit completes a dangerous structure.
      // Both write before either commits (a loaded machine once let one commit first, and the
      // other's UPDATE, not its COMMIT, failed): whichever commits second fails at COMMIT.
      const skew = (mine: number, pauseMs: number) =>
        writer.prisma.$transaction(
          async (tx) => {
            await tx.user.findMany({ where: { id: { in: [a.id, b.id] } } });
            if (++arrived === 2) bothRead();
            await read;
            await tx.user.update({ where: { id: mine }, data: { name: `skew ${mine}` } });
            if (++updated === 2) bothUpdated();
            await written;
            await new Promise((resolve) => setTimeout(resolve, pauseMs));
          },
          { isolationLevel: Prisma.TransactionIsolationLevel.Serializable },
        );
      const outcomes = await Promise.allSettled([skew(a.id, 0), skew(b.id, 150)]);
      const failures = outcomes.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason as { name?: string; cause?: { originalCode?: string } }] : []));
      expect(failures).toHaveLength(1);
      // The case under test: the loser's COMMIT failed, and its error is the adapter's own.
      expect(failures[0]).toMatchObject({ name: "DriverAdapterError", cause: { originalCode: "40001" } });
      const byId = () => reader.prisma.user.findUnique({ where: { id: bystander.id } });
      const list = () => reader.prisma.user.findMany({ where: { id: bystander.id } });
      await byId();
      await list();
      const queries = reader.pool.queries;
      expect(await byId()).toMatchObject({ id: bystander.id });
      expect(await list()).toHaveLength(1);
      expect(reader.pool.queries, "no mark left standing: both reads served from the cache").toBe(queries);
      expect(reader.prisma.$cache.stats().bypasses["write in progress"] ?? 0).toBe(0);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it("a unique violation leaves no mark standing: reads are cached again at once", async () => {
    const namespace = uniqueNamespace();
    const writer = createCachedClient({ namespace });
    const reader = createCachedClient({ namespace });
    try {
      const [user, other] = [await seedUser(writer.base), await seedUser(writer.base)];
      const byId = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      const list = () => reader.prisma.user.findMany({ where: { id: user.id } });
      await expect(writer.prisma.user.update({ where: { id: user.id }, data: { email: other.email } })).rejects.toMatchObject({ code: "P2002" });
      await byId();
      await list();
      const queries = reader.pool.queries;
      expect(await byId()).toMatchObject({ id: user.id, email: user.email });
      expect(await list()).toHaveLength(1);
      expect(reader.pool.queries).toBe(queries);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });
});

describe("a create of unknown outcome on a model the Bloom guard covers", () => {
  const namespace = uniqueNamespace();
  const redis = createRedis();
  const database = databaseUrl();
  const pools: pg.Pool[] = [];
  const clients: PrismaClient[] = [];
  const guarded = (poolOptions: pg.PoolConfig = {}, options: { l1?: false; lateCommitWindow?: number } = {}) => {
    const pool = new pg.Pool({ connectionString: database, max: 2, ...poolOptions });
    pools.push(pool);
    const base = new PrismaClient({ adapter: new PrismaPg(pool) });
    clients.push(base);
    return base.$extends(cacheExtension({ namespace, redis, models: { User: { bloom: true } }, lateCommitWindow: LATE_COMMIT_WINDOW_S, ...options }));
  };
  const { base: plain } = createBaseClient();
  // pg gives up on the statement after 300 ms; PostgreSQL keeps running it.
  const timingOut = guarded({ query_timeout: 300 });
  const fleet = [timingOut, guarded(), guarded({}, { l1: false })];
  /**
   * Runs `during` while an uncommitted insert of each email stands: a create of one waits for it on
   * the unique index, and commits once it is rolled back, after `during`.
   */
  const whileInsertsHeld = async (emails: readonly string[], during: () => Promise<void>) => {
    const locker = new pg.Client({ connectionString: database });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      for (const email of emails) await locker.query(`INSERT INTO "User" (email) VALUES ($1)`, [email]);
      await during();
      await locker.query("ROLLBACK");
    } finally {
      await locker.end();
    }
  };

  afterAll(async () => {
    for (const client of fleet) await client.$cache.close();
    for (const client of clients) await client.$disconnect();
    await Promise.all(pools.map((pool) => pool.end().catch(() => {})));
    await plain.$disconnect();
    redis.disconnect();
  });

  it("commits after its client gave up, after the filter was asked to rebuild: no instance answers \"not found\" for it, and the guard works again after lateCommitWindow (outside probe 253)", async () => {
    await Promise.all(fleet.map((client) => client.$cache.prepareBloom()));
    const email = `late-${uniqueNamespace()}@example.com`;
    const byEmail = (client: (typeof fleet)[number]) => client.user.findUnique({ where: { email } });
    for (const client of fleet) expect(await byEmail(client)).toBeNull();
    let rebuilt: Promise<string> | undefined;
    await whileInsertsHeld([email], async () => {
      await expect(timingOut.user.create({ data: { email, name: "committed late" } })).rejects.toThrow(/timeout/i);
      // Reads while it waits (the row does not exist yet) ask every instance's suspended filter to be rebuilt:
      // a scan of the table now would not see the row.
      for (let round = 0; round < 4; round++) {
        for (const client of fleet) expect(await byEmail(client)).toBeNull();
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      // An explicit rebuild now waits for the window too, then scans a table that has the row.
      rebuilt = fleet[1]!.$cache.rebuildBloom("User").then(() => "rebuilt");
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await Promise.race([rebuilt, "waiting"])).toBe("waiting");
    });
    let row: { id: number } | null = null;
    for (let waited = 0; (row = await plain.user.findUnique({ where: { email } })) === null; waited += 20) {
      if (waited > 5000) throw new Error("the late create never committed");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Through the window and past it (when the filter is rebuilt), every instance finds the row by either key.
    const rejectsBefore = fleet.map((client) => client.$cache.stats().bloomRejects);
    let guardedAgain = false;
    // Bounded generously: the rebuild runs once the window passed, on a machine that may be busy.
    for (const until = Date.now() + LATE_COMMIT_WINDOW_S * 1000 + 20_000; Date.now() < until && !guardedAgain; ) {
      for (const client of fleet) {
        expect((await byEmail(client))?.name).toBe("committed late");
        expect((await client.user.findUnique({ where: { id: row.id } }))?.email).toBe(email);
        // A new absent email each time: one asked before stores its "not found", which is served before the guard is asked.
        expect(await client.user.findUnique({ where: { email: `never-${uniqueNamespace()}@example.com` } })).toBeNull();
      }
      guardedAgain = fleet.every((client, i) => client.$cache.stats().bloomRejects > rejectsBefore[i]!);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(guardedAgain, `Bloom rejects before ${rejectsBefore}, after ${fleet.map((client) => client.$cache.stats().bloomRejects)}`).toBe(true);
    expect(await rebuilt).toBe("rebuilt");
    expect(await byEmail(fleet[1]!)).toMatchObject({ email, name: "committed late" });
  });

  it("two rebuildBloom() calls during the window both wait for it, and both instances then guard with a filter that has the late row (outside probe 259)", async () => {
    const email = `both-${uniqueNamespace()}@example.com`;
    const [first, second] = [fleet[1]!, fleet[2]!];
    let rebuilds: Promise<unknown> | undefined;
    await whileInsertsHeld([email], async () => {
      await expect(timingOut.user.create({ data: { email } })).rejects.toThrow(/timeout/i);
      // One of them finds the build lock taken by the other, which is held off and releases it.
      rebuilds = Promise.all([first.$cache.rebuildBloom("User"), second.$cache.rebuildBloom("User")]);
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    await rebuilds;
    for (const client of [first, second]) {
      const rejects = client.$cache.stats().bloomRejects;
      expect(await client.user.findUnique({ where: { email: `never-${uniqueNamespace()}@example.com` } })).toBeNull();
      expect(client.$cache.stats().bloomRejects, "answered by a filter as soon as rebuildBloom() resolved").toBe(rejects + 1);
      expect(await client.user.findUnique({ where: { email } })).toMatchObject({ email });
    }
  });

  it("a filter an earlier version published (built without holding off for unsettled writes) is rebuilt, not adopted (outside probe 259)", async () => {
    await fleet[0]!.$cache.rebuildBloom("User");
    const [liveMeta] = (await redis.keys(`*${namespace}*:bloom:User:*`)).filter((key) => /:bloom:User:[^:]+$/.test(key));
    expect(await redis.hget(liveMeta!, "settled")).toBe("1");
    // What the previous version's BLOOM_FINISH wrote: the same fields, without `settled`.
    await redis.hdel(liveMeta!, "settled");
    const fresh = guarded();
    try {
      await fresh.$cache.prepareBloom();
      expect(fresh.$cache.stats().bloomBuilds).toBe(1);
      expect(await redis.hget(liveMeta!, "settled")).toBe("1");
    } finally {
      await fresh.$cache.close();
    }
  });

  it("prepareBloom() waits for the unsettled writes it met, not for more that keep coming: it resolves without a filter, and nothing answers \"not found\" for their rows (outside probe 256)", async () => {
    const quickWriter = guarded({ query_timeout: 300 }, { lateCommitWindow: 4 });
    const slowWriter = guarded({ query_timeout: 300 }, { lateCommitWindow: 30 });
    const fresh = guarded();
    const emails = [`first-${uniqueNamespace()}@example.com`, `second-${uniqueNamespace()}@example.com`];
    await whileInsertsHeld(emails, async () => {
      await expect(quickWriter.user.create({ data: { email: emails[0]! } })).rejects.toThrow(/timeout/i);
      const preparing = fresh.$cache.prepareBloom().then(() => "prepared");
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Another write of unknown outcome, whose marks stand 30 s: met after the first one's window, it is not waited for.
      await expect(slowWriter.user.create({ data: { email: emails[1]! } })).rejects.toThrow(/timeout/i);
      expect(await Promise.race([preparing, new Promise((resolve) => setTimeout(() => resolve("still waiting"), 15_000))])).toBe("prepared");
      expect(fresh.$cache.stats().bloomBuilds).toBe(0);
    });
    for (let waited = 0; (await plain.user.count({ where: { email: { in: emails } } })) < 2; waited += 20) {
      if (waited > 5000) throw new Error("the late creates never committed");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const client of [...fleet, quickWriter, slowWriter, fresh]) {
      for (const email of emails) expect(await client.user.findUnique({ where: { email } })).toMatchObject({ email });
    }
    // Its guard answers nothing while the second write may still commit.
    expect(await fresh.user.findUnique({ where: { email: `never-${uniqueNamespace()}@example.com` } })).toBeNull();
    expect(fresh.$cache.stats().bloomRejects).toBe(0);
    for (const client of [quickWriter, slowWriter, fresh]) await client.$cache.close();
  });
});
