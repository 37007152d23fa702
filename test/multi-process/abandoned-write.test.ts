import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { startChild } from "../helpers/child-process.ts";
import { withProxiedWriter } from "../helpers/proxied-writer.ts";
import { holdUserRowLock } from "../helpers/row-lock.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until } from "../helpers/wait.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { databaseUrl } from "../helpers/databases.ts";

interface ReaderReport {
  samples: Array<[number, string | null]>;
  l1Hits: number;
  abandonedWrites: number;
}

/**
 * A write by one unique key (the email) changes what reads by another (the id) return, and its
 * announcement cannot name the id: only its confirmation, after the commit, does. A writer that
 * dies in between used to leave every instance serving the old row by id until the entry expired.
 */
describe("a writer killed after its commit, before its confirmation", () => {
  it("the fleet notices it is gone and invalidates what the write may have changed; a live writer's slow write is left alone", async () => {
    await withProxiedWriter(async ({ chaos, proxy, base, admin, user, namespace, common }) => {
      const pendingKey = `{${namespace}}:pending`;
      const readers = [0, 1].map(() => startChild<ReaderReport>("loop-reader.ts", { ...common, REDIS_URL: chaos.url, DURATION_MS: "23000" }));
      const rowLock = await holdUserRowLock(base, user.id);
      const writer = startChild<unknown>("abandoning-writer.ts", { ...common, REDIS_URL: proxy.url, EMAIL: user.email, NAME: "written by a killed writer" });
      await writer.printed("ready");
      await until(async () => (await admin.hlen(pendingKey)) === 1, 20_000);
      // The writer is alive, its write waits for the row lock longer than a registration lifetime (3 s): nobody sweeps it.
      await sleep(4_500);
      expect(await admin.hlen(pendingKey), "a live writer's pending write is not swept").toBe(1);
      // Nor after Redis stalled longer than a registration lifetime, which let every registration lapse at once.
      chaos.pause();
      await sleep(3_500);
      chaos.resume();
      await sleep(2_500);
      expect(await admin.hlen(pendingKey), "a live writer's pending write is not swept after a Redis stall").toBe(1);
      // Cut off from Redis, the write commits; the writer dies before its confirmation can go out.
      proxy.cut();
      await rowLock.release();
      await until(async () => (await base.user.findUniqueOrThrow({ where: { id: user.id } })).name === "written by a killed writer", 10_000);
      writer.kill();
      const killedAt = machineNow();
      await writer.result.catch(() => undefined);
      const reports = await Promise.all(readers.map((reader) => reader.result));

      // Swept: its record stays, without its writer, until its marks lapse (a live writer's confirmation would clear them).
      expect(Object.values(await admin.hgetall(pendingKey)).map((record) => record.split("\n")[0]), "the orphaned write was swept").toEqual([""]);
      expect(reports.reduce((sum, report) => sum + report.abandonedWrites, 0), "swept once, by one instance").toBe(1);
      for (const report of reports) {
        expect(report.l1Hits, "the readers served from L1 before the write").toBeGreaterThan(0);
        // Its registration lapses within 3 s of its last heartbeat; the next heartbeat of a reader (1 s) sweeps it.
        const after = report.samples.filter(([started]) => started > killedAt + 6_000);
        expect(after.length, "reads well after the kill").toBeGreaterThan(10);
        expect(after.filter(([, name]) => name !== "written by a killed writer")).toEqual([]);
      }
    });
  }, 90_000);

  it("with no other instance alive, a new instance's first registration sweeps the killed writer's write: its first reads are the new row (outside probe 226: 1.1-1.4 s of the old row, until its second heartbeat)", async () => {
    await withProxiedWriter(async ({ chaos, proxy, base, admin, user, namespace, common }) => {
      const pendingKey = `{${namespace}}:pending`;
      // The row is cached by id, a name only the write's result reveals; then every instance but the writer leaves.
      const earlyRedis = new Redis(chaos.url);
      const early = createCachedClient({ redis: earlyRedis, namespace, models: { User: true } });
      expect((await early.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe(user.name);
      await early.close();
      earlyRedis.disconnect();
      const rowLock = await holdUserRowLock(base, user.id);
      const writer = startChild<unknown>("abandoning-writer.ts", { ...common, REDIS_URL: proxy.url, EMAIL: user.email, NAME: "written before the whole fleet died" });
      await writer.printed("ready");
      await until(async () => (await admin.hlen(pendingKey)) === 1, 20_000);
      proxy.cut();
      await rowLock.release();
      await until(async () => (await base.user.findUniqueOrThrow({ where: { id: user.id } })).name === "written before the whole fleet died", 10_000);
      writer.kill();
      await writer.result.catch(() => undefined);
      // Its registration lapses (3 s after its last heartbeat); nobody is left to sweep its write.
      await sleep(4_000);
      expect(Object.values(await admin.hgetall(pendingKey)).map((record) => record.split("\n")[0]), "not swept yet").not.toEqual([""]);

      const lateRedis = new Redis(chaos.url);
      const late = createCachedClient({ redis: lateRedis, namespace, models: { User: true } });
      try {
        // warm() waits for the instance's first registration; its sweep goes out on the same connection before the read's lookup.
        await late.prisma.$cache.warm({ top: 1 });
        expect((await late.prisma.user.findUnique({ where: { id: user.id } }))?.name, "the first read after the registration").toBe("written before the whole fleet died");
        await until(() => late.prisma.$cache.stats().abandonedWrites === 1, 10_000);
      } finally {
        await late.close();
        lateRedis.disconnect();
      }
    });
  }, 60_000);

  it("a write killed while it waits for a row lock commits after the sweep's marks lapsed: its model's lists are not cached in between (the sweep keeps the announcement's longer mark; found by an outside probe)", async () => {
    const namespace = uniqueNamespace();
    // The reader's own lateCommitWindow is what its sweep marks for: short, to see it lapse.
    const reader = createCachedClient({ namespace, models: { User: true }, lateCommitWindow: 1 });
    const admin = new Redis(inject("redisUrl"));
    try {
      const user = await seedUser(reader.base);
      const list = () => reader.prisma.user.findMany({ where: { id: user.id } });
      const count = () => reader.prisma.user.count({ where: { id: user.id, name: "written by a killed writer" } });
      await list();
      await count();
      const rowLock = await holdUserRowLock(reader.base, user.id);
      const writer = startChild<unknown>("abandoning-writer.ts", { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, EMAIL: user.email, NAME: "written by a killed writer" });
      await writer.printed("ready");
      await until(async () => (await admin.hlen(`{${namespace}}:pending`)) === 1, 20_000);
      // Killed once its UPDATE waits for the lock in the database, which still runs it once the lock is free.
      await until(async () => (await rowLock.blocked()) > 0, 20_000, 50);
      writer.kill();
      await writer.result.catch(() => undefined);
      await until(() => reader.prisma.$cache.stats().abandonedWrites === 1, 20_000, 50);
      // The sweep's own marks lapse (lateCommitWindow 1 s); reads in between go to the database.
      await sleep(1_500);
      await list();
      await count();
      await rowLock.release();
      await until(async () => (await reader.base.user.findUniqueOrThrow({ where: { id: user.id } })).name === "written by a killed writer", 10_000);
      expect((await list())[0]?.name).toBe("written by a killed writer");
      expect(await count()).toBe(1);
    } finally {
      admin.disconnect();
      await reader.close();
    }
  }, 90_000);

  it("a live writer whose write was swept (its registration lapsed while it waited) clears the sweep's marks with its confirmation: its model is cached again at once, not after lateCommitWindow", async () => {
    const namespace = uniqueNamespace();
    const reader = createCachedClient({ namespace, models: { User: true }, lateCommitWindow: 60 });
    const admin = new Redis(inject("redisUrl"));
    try {
      const [written, other] = [await seedUser(reader.base), await seedUser(reader.base)];
      const readOther = () => reader.prisma.user.findUnique({ where: { id: other.id } });
      await readOther();
      const rowLock = await holdUserRowLock(reader.base, written.id);
      const writer = startChild<{ resolved: boolean }>("abandoning-writer.ts", { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, EMAIL: written.email, NAME: "written by a live writer" });
      await writer.printed("ready");
      const pendingKey = `{${namespace}}:pending`;
      await until(async () => (await admin.hlen(pendingKey)) === 1, 20_000);
      const [record] = Object.values(await admin.hgetall(pendingKey));
      const writerMember = record!.split("\n")[0]!;
      // The writer lives, but its registration is taken away (as a Redis stall or an open circuit
      // does) once its write was announced over a registration lifetime ago: the reader sweeps it.
      await sleep(3_500);
      await until(async () => (await admin.zrem(`{${namespace}}:instances`, writerMember), reader.prisma.$cache.stats().abandonedWrites === 1), 20_000, 20);
      await rowLock.release();
      expect(await writer.result).toEqual({ resolved: true });
      // The sweep bumped the model: the next read loads once; after it the row is cached again.
      expect((await readOther())?.id).toBe(other.id);
      const queries = reader.pool.queries;
      expect((await readOther())?.id).toBe(other.id);
      expect(reader.pool.queries, "served from the cache once the writer confirmed").toBe(queries);
      expect((await reader.prisma.user.findUnique({ where: { id: written.id } }))?.name).toBe("written by a live writer");
    } finally {
      admin.disconnect();
      await reader.close();
    }
  }, 90_000);
});
