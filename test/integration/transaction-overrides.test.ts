import { afterEach, describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { cacheExtension, type CacheError } from "../../src/index.ts";
import { createBaseClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";

/**
 * Prisma's own "retry transactions" example, as apps copy it: it overrides `$transaction` and runs
 * it on the client it was given, whatever `this` is — as prisma-extension-kysely's does too. Applied
 * before the cache, the callback's `tx` is a transaction client of the client below the cache.
 */
const retryTransactions = Prisma.defineExtension((prisma) =>
  prisma.$extends({
    client: {
      async $transaction(...args: unknown[]) {
        for (let attempt = 1; ; attempt++) {
          try {
            return await (prisma.$transaction as (...given: unknown[]) => Promise<unknown>).apply(prisma, args);
          } catch (error) {
            if ((error as { code?: unknown }).code !== "P2034" || attempt === 3) throw error;
          }
        }
      },
    },
  }),
);

/** One that runs the transaction a second time after a first run that committed (as a retry after a lost COMMIT reply would). */
const runTwice = Prisma.defineExtension((prisma) =>
  prisma.$extends({
    client: {
      async $transaction(...args: unknown[]) {
        const run = () => (prisma.$transaction as (...given: unknown[]) => Promise<unknown>).apply(prisma, args);
        await run();
        return run();
      },
    },
  }),
);

/** One that opens no transaction at all: the callback gets the client below the cache, whose writes commit as they go. */
const noTransaction = Prisma.defineExtension((prisma) =>
  prisma.$extends({
    client: {
      $transaction(callback: unknown) {
        return (callback as (client: unknown) => Promise<unknown>)(prisma);
      },
    },
  }),
);

function instance(namespace: string, errors: CacheError[], below: typeof retryTransactions = retryTransactions) {
  const { base, pool } = createBaseClient();
  const redis = createRedis();
  const prisma = base.$extends(below).$extends(cacheExtension({ redis, namespace, models: { User: true, Post: true }, onError: (error) => errors.push(error) }));
  return {
    base,
    pool,
    prisma,
    async close() {
      await prisma.$cache.close();
      await base.$disconnect();
      redis.disconnect();
    },
  };
}

describe("an extension before the cache that runs interactive transactions on the client below it (outside probe 273)", () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((each) => each.close()));
  });

  it("its transactions' writes, which the cache cannot see, still leave no instance serving what they changed; reported once", async () => {
    const namespace = uniqueNamespace();
    const errors: CacheError[] = [];
    const writer = instance(namespace, errors);
    const other = instance(namespace, []);
    open.push(writer, other);
    const user = await seedUser(writer.base);
    const seeded = await writer.base.post.count({ where: { authorId: user.id } });
    const read = async (client: typeof writer) => [(await client.prisma.user.findUnique({ where: { id: user.id } }))?.name, await client.prisma.post.count({ where: { authorId: user.id } })];
    for (const round of [1, 2]) {
      for (const client of [writer, other]) await read(client);
      await writer.prisma.$transaction(async (tx: Prisma.TransactionClient) => {
        expect((tx as { $cache?: unknown }).$cache).toBeUndefined();
        await tx.user.update({ where: { id: user.id }, data: { name: `written in round ${round}` } });
        await tx.post.create({ data: { slug: `round-${round}`, title: "t", authorId: user.id } });
      });
      for (const client of [writer, other]) expect(await read(client)).toEqual([`written in round ${round}`, seeded + round]);
    }
    expect(errors.map((error) => error.code)).toEqual(["E_TRANSACTION_OUTSIDE_CACHE"]);
    expect(errors[0]!.message).toContain("apply that extension after cacheExtension()");
  });

  // Run again after a conflict (rolled back), or after a first run that committed: either way the
  // second run's writes are seen, and what the first announced is settled with it — left announced,
  // its marks would keep every cached model's reads from the cache for minutes.
  for (const [runs, below, conflict] of [
    ["again after a conflict", retryTransactions, true],
    ["twice, both runs committed", runTwice, false],
  ] as const) {
    it(`a transaction the extension ran ${runs}: the last run's writes are seen, and reads are cached again at once`, async () => {
      const namespace = uniqueNamespace();
      const writer = instance(namespace, [], below);
      const other = instance(namespace, [], below);
      open.push(writer, other);
      const user = await seedUser(writer.base);
      const readName = async (client: typeof writer) => (await client.prisma.user.findUnique({ where: { id: user.id } }))?.name;
      for (const client of [writer, other]) await readName(client);
      let run = 0;
      await writer.prisma.$transaction(async (tx: Prisma.TransactionClient) => {
        run++;
        await tx.user.update({ where: { id: user.id }, data: { name: `run ${run}` } });
        // As a serialization failure at the commit would: rolled back, and run again.
        if (conflict && run === 1) throw Object.assign(new Error("write conflict"), { code: "P2034" });
      });
      expect(run).toBe(2);
      for (const client of [writer, other]) expect(await readName(client)).toBe("run 2");
      const before = other.pool.queries;
      for (let i = 0; i < 3; i++) expect(await readName(other)).toBe("run 2");
      expect(other.pool.queries - before).toBeLessThanOrEqual(1);
    });
  }

  it("given a client in no transaction at all, a callback that wrote and then threw leaves no instance serving what it wrote (outside probe 275)", async () => {
    const namespace = uniqueNamespace();
    const writer = instance(namespace, [], noTransaction);
    const other = instance(namespace, [], noTransaction);
    open.push(writer, other);
    const user = await seedUser(writer.base);
    const readName = async (client: typeof writer) => (await client.prisma.user.findUnique({ where: { id: user.id } }))?.name;
    for (const round of [1, 2]) {
      for (const client of [writer, other]) await readName(client);
      const failing = writer.prisma.$transaction(async (tx: Prisma.TransactionClient) => {
        await tx.user.update({ where: { id: user.id }, data: { name: `committed in round ${round}` } });
        throw new Error("failed after its write");
      });
      await expect(failing).rejects.toThrow("failed after its write");
      for (const client of [writer, other]) expect(await readName(client)).toBe(`committed in round ${round}`);
    }
  });

  it("applied after the cache, the transaction carries the cache and invalidates only what it wrote, unreported", async () => {
    const namespace = uniqueNamespace();
    const errors: CacheError[] = [];
    const { base } = createBaseClient();
    const redis = createRedis();
    const prisma = base.$extends(cacheExtension({ redis, namespace, models: { User: true, Post: true }, onError: (error) => errors.push(error) })).$extends(retryTransactions);
    open.push({ close: async () => (await prisma.$cache.close(), await base.$disconnect(), redis.disconnect()) });
    const user = await seedUser(base);
    const other = await seedUser(base);
    await prisma.user.findUnique({ where: { id: other.id } });
    await prisma.$transaction(async (tx: Prisma.TransactionClient) => {
      expect((tx as { $cache?: unknown }).$cache).toBe(prisma.$cache);
      await tx.user.update({ where: { id: user.id }, data: { name: "written" } });
    });
    expect((await prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("written");
    // The other user's entry was not invalidated: a hit.
    const hits = prisma.$cache.stats().hits;
    await prisma.user.findUnique({ where: { id: other.id } });
    expect(prisma.$cache.stats().hits).toBe(hits + 1);
    expect(errors).toEqual([]);
  });
});
