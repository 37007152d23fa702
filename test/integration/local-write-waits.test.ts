import { describe, expect, it } from "vitest";
import { cacheExtension } from "../../src/index.ts";
import { createBaseClient, createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { holdUserRowLock } from "../helpers/row-lock.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until } from "../helpers/wait.ts";

/**
 * A read of a row this process is writing: while the write's marks stand, the read may neither
 * be served from Redis nor stored, and it used to query the database by itself — a herd on a hot
 * row for as long as its write lasted. It now waits for that write (this process's writer is
 * alive and about to confirm), then reads as usual: the readers of the row share one load.
 * L1 is off here so every read reaches that decision (an L1 entry is served until the
 * announcement's reply invalidates it, as before).
 */
describe("reads of what this process is writing wait for the write", () => {
  it("readers of a row during its write wait, get the written row, and share one load", async () => {
    const c = createCachedClient({ l1: false });
    try {
      const user = await seedUser(c.base, { name: "before" });
      expect((await c.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("before");
      // Every statement takes 300 ms longer: a slow write, as slow as the ones before it (a read
      // waits only a few times as long as this process's recent writes took).
      c.pool.delayMs = 300;
      await c.prisma.user.update({ where: { id: user.id }, data: { name: "before" } });
      const queriesBefore = c.pool.queries;
      let writeDone = false;
      const write = c.prisma.user.update({ where: { id: user.id }, data: { name: "after" } }).then(() => (writeDone = true));
      // The UPDATE is on its way to the database.
      await until(() => c.pool.queries === queriesBefore + 1);
      const settled: Array<[name: string, afterWrite: boolean]> = [];
      const reads: Promise<unknown>[] = [];
      // Staggered, so Prisma cannot merge the reads' statements into one: each bypass would be a query.
      for (let i = 0; i < 5; i++) {
        reads.push(c.prisma.user.findUnique({ where: { id: user.id } }).then((row) => settled.push([String(row?.name), writeDone])));
        await sleep(20);
      }
      expect(c.pool.queries, "no read queried the database while the write was in flight").toBe(queriesBefore + 1);
      await Promise.all([write, ...reads]);
      expect(settled).toEqual(Array(5).fill(["after", true]));
      expect(c.pool.queries - queriesBefore, "the write, then one load for all five readers").toBe(2);
      expect(c.prisma.$cache.stats()).toMatchObject({ localWriteWaits: 5, bypasses: {} });
    } finally {
      await c.close();
    }
  }, 30_000);

  it("a write blocked in the database holds its readers no longer than a few of its recent writes took: they read the committed row", async () => {
    const c = createCachedClient({ l1: false, redisTimeout: 100 });
    const { base: locker } = createBaseClient();
    try {
      const user = await seedUser(c.base, { name: "before" });
      // A timed load and a timed write: a read now waits a few times as long as those took.
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.user.update({ where: { id: user.id }, data: { name: "before" } });
      const lock = await holdUserRowLock(locker, user.id);
      const queriesBefore = c.pool.queries;
      // Started now (a Prisma query runs once awaited).
      const write = c.prisma.user.update({ where: { id: user.id }, data: { name: "after" } }).then((row) => row);
      await until(() => c.pool.queries > queriesBefore);
      expect(c.pool.queries, "the write's UPDATE, waiting for the row lock").toBe(queriesBefore + 1);
      // The row lock is released only after this read: had it waited for the write, it would never resolve.
      const read = await c.prisma.user.findUnique({ where: { id: user.id } });
      expect(read?.name).toBe("before");
      expect(c.prisma.$cache.stats()).toMatchObject({ localWriteWaits: 1, bypasses: { "write in progress": 1 } });
      await lock.release();
      await write;
      expect((await c.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("after");
    } finally {
      await locker.$disconnect();
      await c.close();
    }
  }, 30_000);

  it("a read another extension's hook makes inside the write does not wait for that write", async () => {
    const { base } = createBaseClient();
    const redis = createRedis();
    const seen: string[] = [];
    // A read waiting for the write it runs in would wait until its bound ran out (lockTtl, before any load was timed).
    let cached: { user: { findUnique(args: { where: { id: number } }): Promise<{ name: string | null } | null> } } | undefined;
    const audited = base.$extends({
      query: {
        user: {
          async update({ args, query }) {
            const before = await cached!.user.findUnique({ where: { id: (args.where as { id: number }).id } });
            seen.push(String(before?.name));
            return query(args);
          },
        },
      },
    });
    const prisma = audited.$extends(cacheExtension({ namespace: uniqueNamespace(), redis, models: { User: true }, l1: false, lockTtl: 60_000 }));
    cached = prisma as never;
    try {
      const user = await seedUser(base, { name: "before" });
      // A first write, timed: reads may wait for the writes after it.
      await prisma.user.update({ where: { id: user.id }, data: { name: "before" } });
      const updated = await prisma.user.update({ where: { id: user.id }, data: { name: "after" } });
      expect(updated.name).toBe("after");
      expect(seen).toEqual(["before", "before"]);
      expect(prisma.$cache.stats().localWriteWaits).toBe(0);
    } finally {
      await prisma.$cache.close();
      await base.$disconnect();
      redis.disconnect();
    }
  }, 20_000);
});
