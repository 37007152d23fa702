// A client whose cache was closed: its writes can no longer reach the other instances, so they are
// refused before they touch the database (CacheClosedError), as are the `$cache` methods that need
// the fleet; reads pass through. A write in flight when close() is called still invalidates.
import { afterEach, describe, expect, it } from "vitest";
import { accelerateCompat, CacheArgumentError, CacheClosedError, type CacheError, UndeliveredInvalidationsError } from "../../src/index.ts";
import { createBaseClient, createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { holdUserRowLock } from "../helpers/row-lock.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

type Cached = ReturnType<typeof createCachedClient>;
const opened: Cached[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((client) => client.close()));
});

describe("after $cache.close()", () => {
  it("refuses every kind of write before it reaches the database, and another instance keeps serving what the database holds", async () => {
    const namespace = `closed${Date.now() % 100_000}`;
    const closing = createCachedClient({ namespace });
    const reader = createCachedClient({ namespace });
    opened.push(reader);
    const user = await seedUser(closing.base, { name: "before" });
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("before");
    await closing.prisma.$cache.close();

    const refused: Array<[string, () => PromiseLike<unknown>]> = [
      ["User.update", () => closing.prisma.user.update({ where: { id: user.id }, data: { name: "after" } })],
      ["User.updateMany", () => closing.prisma.user.updateMany({ where: { id: user.id }, data: { name: "after" } })],
      ["User.update", () => closing.prisma.user.update({ where: { id: user.id }, data: { name: "after" } }).posts()],
      ["User.create", () => closing.prisma.user.create({ data: { email: `new-${user.id}@closed.example`, name: "new" } })],
      ["raw statement", () => closing.prisma.$executeRaw`UPDATE "User" SET name = 'after' WHERE id = ${user.id}`],
      ["$transaction", () => closing.prisma.$transaction([closing.prisma.user.update({ where: { id: user.id }, data: { name: "after" } })])],
      ["User.update", () => closing.prisma.$transaction(async (tx) => tx.user.update({ where: { id: user.id }, data: { name: "after" } }))],
      // Another client's batch: the refused element makes Prisma reject it whole (the base create below is not committed either).
      ["User.update", () => closing.base.$transaction([closing.base.user.create({ data: { email: `new-${user.id}@closed.example`, name: "new" } }), closing.prisma.user.update({ where: { id: user.id }, data: { name: "after" } }) as never])],
    ];
    for (const [operation, write] of refused) {
      const error = await Promise.resolve(write()).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, operation).toBeInstanceOf(CacheClosedError);
      expect(error).toMatchObject({ code: "E_CLOSED", operation });
    }
    // Nothing was written, so the other instance's cached row is still the database's.
    expect((await closing.base.user.findUnique({ where: { id: user.id } }))?.name).toBe("before");
    expect(await closing.base.user.count({ where: { email: `new-${user.id}@closed.example` } })).toBe(0);
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("before");

    // Reads pass through, in and out of transactions; a transaction that only reads commits.
    expect((await closing.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("before");
    expect(await closing.prisma.$transaction(async (tx) => (await tx.user.findUnique({ where: { id: user.id } }))?.name)).toBe("before");
    expect(await closing.prisma.$transaction([closing.prisma.user.count({ where: { id: user.id } })])).toEqual([1]);
    await closing.base.$disconnect();
    closing.redis?.disconnect();
  });

  it("abandons a Bloom build still running when it closes without reporting its failure on the closed connections (outside probe 136: E_BLOOM_REFRESH after every such close)", async () => {
    const errors: CacheError[] = [];
    const namespace = uniqueNamespace();
    const client = createCachedClient({ namespace, models: { User: { bloom: true } }, onError: (error) => errors.push(error) });
    const user = await seedUser(client.base);
    // The first guarded read starts the filter's build in the background; close() does not wait for it.
    await client.prisma.user.findUnique({ where: { email: user.email } });
    let building = true;
    const watch = client.redis!.keys(`*${namespace}*:bloom:User:*:lock`).then((keys) => (building = keys.length > 0));
    await client.close();
    await watch;
    // Long enough for the abandoned build's next command to fail on the closed connection.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(building, "the build was still running at close(): else this test shows nothing").toBe(true);
    expect(errors.map((error) => `${error.code}: ${error.message}`)).toEqual([]);
  });

  it("refuses the $cache methods that need the fleet", async () => {
    const errors: CacheError[] = [];
    const client = createCachedClient({ onError: (error) => errors.push(error) });
    await client.prisma.$cache.close();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["$cache.invalidate()", () => client.prisma.$cache.invalidate({ model: "User" })],
      ["$cache.warm()", () => client.prisma.$cache.warm()],
      ["$cache.topQueries()", () => client.prisma.$cache.topQueries()],
      ["$cache.fleetStats()", () => client.prisma.$cache.fleetStats()],
      ["$cache.rebuildBloom()", () => client.prisma.$cache.rebuildBloom()],
    ];
    for (const [operation, call] of calls) await expect(call(), operation).rejects.toMatchObject({ code: "E_CLOSED", operation });
    // The Accelerate mode names its own methods.
    const { base } = createBaseClient();
    const redis = createRedis();
    const accelerate = base.$extends(accelerateCompat({ redis, namespace: uniqueNamespace() }));
    await accelerate.$cache.close();
    await expect(accelerate.$accelerate.invalidate({ tags: ["a"] })).rejects.toMatchObject({ code: "E_CLOSED", operation: "$accelerate.invalidate()" });
    await expect(accelerate.$accelerate.invalidateAll()).rejects.toMatchObject({ code: "E_CLOSED", operation: "$accelerate.invalidateAll()" });
    await base.$disconnect();
    redis.disconnect();
    // Closing again, reading the counters and draining still work; a second close settles as the first did.
    await client.prisma.$cache.close();
    expect(client.prisma.$cache.close()).toBe(client.prisma.$cache.close());
    expect(client.prisma.$cache.stats().hits).toBe(0);
    // Reads pass through to the database, counted as such (not as the subscription going down; outside probe 96).
    await client.prisma.user.findMany({ take: 1 });
    await client.prisma.user.findMany({ take: 1 });
    expect(client.prisma.$cache.stats().bypasses).toEqual({ "cache closed": 2 });
    await client.prisma.$cache.drain();
    // Nothing was sent on the closed connections, so nothing failed (outside probe 128: drain() reported E_STORE).
    expect(errors).toEqual([]);
    await client.base.$disconnect();
    client.redis?.disconnect();
  });

  it("waits for a write in flight to invalidate what it changed before it closes the connections", async () => {
    const namespace = `closing${Date.now() % 100_000}`;
    const closing = createCachedClient({ namespace });
    const reader = createCachedClient({ namespace });
    opened.push(reader);
    const user = await seedUser(closing.base, { name: "before" });
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("before");
    const lock = await holdUserRowLock(closing.base, user.id);
    const write = closing.prisma.user.update({ where: { id: user.id }, data: { name: "during close" } }).then((row) => row.name);
    await until(async () => (await lock.blocked()) === 1);
    const closed = closing.prisma.$cache.close();
    let closedEarly = false;
    void closed.then(() => (closedEarly = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closedEarly).toBe(false);
    await lock.release();
    expect(await write).toBe("during close");
    await closed;
    expect(closing.prisma.$cache.stats()).toMatchObject({ undeliveredWrites: 0, invalidationsQueued: 0 });
    // Its count of its bumps (the rollback check's) went with it; the reader's stays.
    expect(await closing.redis!.keys(`{${namespace}}:bumps:*`)).toHaveLength(0);
    // The confirmation reached Redis: its marks are gone, so the reader caches the new row again.
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("during close");
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("during close");
    expect(reader.prisma.$cache.stats().bypasses["write in progress"] ?? 0).toBe(0);
    await closing.base.$disconnect();
    closing.redis?.disconnect();
  });

  // Outside probe 163: close() resolved "ok" while a write it had stopped waiting for was still
  // running; that write committed after the connections closed, its invalidation never sent.
  it("rejects with UndeliveredInvalidationsError naming what a write still running after closeTimeout changes", async () => {
    const namespace = uniqueNamespace();
    // A long redisDownWriteWait: the write must not spend it on the connections close() closed
    // (outside probe 165: it did, and kept the process up 6 s after the application had closed everything).
    const closing = createCachedClient({ namespace, closeTimeout: 200, redisDownWriteWait: 120_000 });
    const user = await seedUser(closing.base, { name: "before" });
    await closing.prisma.user.findUnique({ where: { id: user.id } });
    const lock = await holdUserRowLock(closing.base, user.id);
    // A Prisma query runs once awaited: then() starts it.
    const write = closing.prisma.user.update({ where: { id: user.id }, data: { name: "committed after close" } }).then((row) => row.name);
    await until(async () => (await lock.blocked()) === 1);
    const closed = await closing.prisma.$cache.close().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(closed).toBeInstanceOf(UndeliveredInvalidationsError);
    expect((closed as UndeliveredInvalidationsError).models).toEqual(["User"]);
    // The record's own name among them, not only the model's.
    expect((closed as UndeliveredInvalidationsError).names.some((name) => name.startsWith("t:User:") && name.includes(String(user.id)))).toBe(true);
    expect(closing.prisma.$cache.stats().undeliveredInvalidations).toBeGreaterThan(0);
    await lock.release();
    expect(await write).toBe("committed after close");
    expect(closing.prisma.$cache.stats().undeliveredWrites).toBe(1);
    await closing.base.$disconnect();
    closing.redis?.disconnect();
  }, 30_000);

  // Outside probe 167: close() rejected for a write whose confirmation Redis had taken, that was
  // only waiting for the acknowledgement of an instance frozen by SIGSTOP.
  it("resolves when the write still running was taken by Redis and only waits for an instance that does not acknowledge", async () => {
    const namespace = uniqueNamespace();
    const closing = createCachedClient({ namespace, closeTimeout: 200, lease: { ttl: 3_000 } });
    const user = await seedUser(closing.base, { name: "before" });
    await closing.prisma.user.findUnique({ where: { id: user.id } });
    // Another instance, registered and silent: the write waits out the lease for its acknowledgement.
    const [seconds] = await closing.redis!.time();
    await closing.redis!.zadd(`{${namespace}}:instances`, Number(seconds) * 1000 + 60_000, "a-frozen-instance");
    const write = closing.prisma.user.update({ where: { id: user.id }, data: { name: "taken before close" } }).then((row) => row.name);
    await until(() => closing.prisma.$cache.stats().invalidationsSent >= 2);
    await closing.prisma.$cache.close();
    expect(await write).toBe("taken before close");
    expect(closing.prisma.$cache.stats()).toMatchObject({ undeliveredWrites: 0, undeliveredInvalidations: 0 });
    await closing.base.$disconnect();
    closing.redis?.disconnect();
  }, 30_000);

  it("lets an interactive transaction asked for before close() write and commit while close() waits, and refuses one asked for after", async () => {
    const namespace = `draining${Date.now() % 100_000}`;
    const closing = createCachedClient({ namespace });
    const reader = createCachedClient({ namespace });
    opened.push(reader);
    const user = await seedUser(closing.base, { name: "before" });
    const other = await seedUser(closing.base, { name: "other before" });
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("before");
    expect((await reader.prisma.user.findUnique({ where: { id: other.id } }))?.name).toBe("other before");
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const isStarted = new Promise<void>((resolve) => (started = resolve));
    // Its writes come after close() began: a model write, a fluent write and a raw statement.
    const transaction = closing.prisma.$transaction(async (tx) => {
      started();
      await released;
      await tx.user.update({ where: { id: user.id }, data: { name: "in transaction" } });
      await tx.user.update({ where: { id: other.id }, data: { name: "fluent" } }).posts();
      await tx.$executeRaw`UPDATE "User" SET name = 'raw' WHERE id = ${other.id}`;
      return "committed";
    });
    await isStarted;
    const closed = closing.prisma.$cache.close();
    // Asked for after close() began: refused at its first write, and rolled back.
    const late = closing.prisma.$transaction(async (tx) => tx.user.update({ where: { id: user.id }, data: { name: "late" } }));
    await expect(late).rejects.toMatchObject({ code: "E_CLOSED", operation: "User.update" });
    release();
    expect(await transaction).toBe("committed");
    await closed;
    expect(closing.prisma.$cache.stats()).toMatchObject({ undeliveredWrites: 0, invalidationsQueued: 0 });
    expect((await closing.base.user.findUnique({ where: { id: user.id } }))?.name).toBe("in transaction");
    // Its invalidation went out before the connections closed: the other instance reads the commit.
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("in transaction");
    expect((await reader.prisma.user.findUnique({ where: { id: other.id } }))?.name).toBe("raw");
    await closing.base.$disconnect();
    closing.redis?.disconnect();
  });

  it("refuses the writes of a transaction still open when close() stops waiting, which then rolls back", async () => {
    const closing = createCachedClient({ closeTimeout: 100 });
    const user = await seedUser(closing.base, { name: "before" });
    let started!: () => void;
    const isStarted = new Promise<void>((resolve) => (started = resolve));
    const transaction = closing.prisma.$transaction(
      async (tx) => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 400));
        return tx.user.update({ where: { id: user.id }, data: { name: "too late" } });
      },
      { timeout: 5_000 },
    );
    await isStarted;
    const errors: unknown[] = [];
    const closed = closing.prisma.$cache.close();
    await expect(transaction).rejects.toMatchObject({ code: "E_CLOSED", operation: "User.update" });
    await closed.catch((error: unknown) => errors.push(error));
    expect(errors).toEqual([]);
    expect((await closing.base.user.findUnique({ where: { id: user.id } }))?.name).toBe("before");
    await closing.base.$disconnect();
    closing.redis?.disconnect();
  });
});

describe("$cache.raw()", () => {
  it("takes this client's raw statements only", async () => {
    const client = createCachedClient();
    opened.push(client);
    const user = await seedUser(client.base, { name: "raw" });
    const refused: unknown[] = [5, "UPDATE", client.prisma.user.findMany(), client.base.$executeRaw`UPDATE "User" SET name = 'base' WHERE id = ${user.id}`];
    for (const query of refused) {
      const error = await Promise.resolve(client.prisma.$cache.raw(["User"], query as PromiseLike<unknown>)).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(CacheArgumentError);
      expect(error).toMatchObject({ argument: "query" });
    }
    // The base client's statement was not run by raw(): it is lazy, and raw() refused it.
    expect((await client.base.user.findUnique({ where: { id: user.id } }))?.name).toBe("raw");
    expect(await client.prisma.$cache.raw(["User"], client.prisma.$executeRaw`UPDATE "User" SET name = 'own' WHERE id = ${user.id}`)).toBe(1);
    expect(await client.prisma.$cache.raw(["User"], client.prisma.$queryRaw<Array<{ name: string }>>`SELECT name FROM "User" WHERE id = ${user.id}`)).toEqual([{ name: "own" }]);
    expect(await client.prisma.$transaction(async (tx) => client.prisma.$cache.raw(["User"], tx.$executeRaw`UPDATE "User" SET name = 'tx' WHERE id = ${user.id}`))).toBe(1);
    expect((await client.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("tx");
  });
});
