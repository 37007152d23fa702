import { Redis, type RedisOptions } from "ioredis";
import { afterEach, describe, expect, inject, it } from "vitest";
import { CacheConfigError, RedisSettingsError, cacheExtension, type CacheError } from "../../src/index.ts";
import { createBaseClient, createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until } from "../helpers/wait.ts";

/**
 * The app's own ioredis client, handed to the cache, with settings under which the cache's
 * commands would not mean what it sends (found by an outside probe; each was a stale read after a
 * resolved write, with no error): refused when the extension meets the client, naming the setting.
 */
describe("ioredis settings the cache cannot work with", () => {
  const opened: Redis[] = [];
  const redisWith = (options: RedisOptions) => {
    const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1, ...options });
    opened.push(redis);
    return redis;
  };
  afterEach(() => {
    for (const redis of opened.splice(0)) redis.disconnect();
  });

  const refusal = (redis: Redis) => {
    const { base } = createBaseClient();
    try {
      base.$extends(cacheExtension({ redis, namespace: uniqueNamespace(), models: { User: true } }));
      return undefined;
    } catch (error) {
      return error as CacheConfigError;
    } finally {
      void base.$disconnect();
    }
  };

  it("a keyPrefix (scripts build keys and channels ioredis does not prefix), stringNumbers, a connection in subscriber mode", async () => {
    for (const [redis, named] of [
      [redisWith({ keyPrefix: "app:" }), /keyPrefix "app:"/],
      [redisWith({ stringNumbers: true }), /stringNumbers/],
    ] as const) {
      const error = refusal(redis);
      expect(error).toBeInstanceOf(CacheConfigError);
      expect(error).toMatchObject({ option: "redis" });
      expect(error?.message).toMatch(named);
    }
    const subscriber = redisWith({});
    await subscriber.subscribe("an-app-channel");
    expect(refusal(subscriber)).toMatchObject({ option: "redis", message: expect.stringMatching(/subscriber mode/) });
    // What the messages advise works.
    expect(refusal(redisWith({ keyPrefix: "app:" }).duplicate({ keyPrefix: "" }))).toBeUndefined();
    expect(refusal(redisWith({ stringNumbers: true }).duplicate({ stringNumbers: false }))).toBeUndefined();
  });

  it("a client the app left inside MULTI does not stand in the cache's way: the cache sends its commands on a connection of its own", async () => {
    const namespace = uniqueNamespace();
    const errors: CacheError[] = [];
    const inMulti = redisWith({});
    const writer = createCachedClient({ namespace, redis: inMulti, redisDownWriteWait: 0.2, onError: (error) => errors.push(error) });
    const reader = createCachedClient({ namespace });
    try {
      const user = await seedUser(writer.base);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      await until(async () => (await read(), reader.prisma.$cache.stats().l1Hits > 0));
      await inMulti.ping();
      const entered = inMulti.multi({ pipeline: false });
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written while the app's client is in MULTI" } });
      expect(errors.filter((error) => /MULTI/.test(error.message))).toEqual([]);
      expect(writer.prisma.$cache.stats().undeliveredWrites).toBe(0);
      expect((await read())?.name).toBe("written while the app's client is in MULTI");
      // Nothing of the cache's was queued in the app's transaction.
      expect(await entered).toBe("OK");
      expect(await inMulti.exec()).toEqual([]);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it("a client whose retryStrategy gives up: the cache's own connections, duplicated from it, still come back after a drop", async () => {
    const chaos = await ChaosRedis.start();
    const admin = new Redis(chaos.url);
    const givingUp = new Redis(chaos.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    givingUp.on("error", () => {});
    const namespace = uniqueNamespace();
    const writer = createCachedClient({ namespace, redis: givingUp, onError: () => {} });
    const readerRedis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
    const reader = createCachedClient({ namespace, redis: readerRedis, onError: () => {} });
    try {
      const user = await seedUser(writer.base);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      await until(async () => (await read(), reader.prisma.$cache.stats().l1Hits > 0));
      await writer.prisma.user.findUnique({ where: { id: user.id } });
      // Every connection of the writer's process but the subscriber: the app's client ends for good, the cache's must not.
      const killed = Number(await admin.call("CLIENT", "KILL", "TYPE", "normal"));
      expect(killed).toBeGreaterThanOrEqual(3);
      await until(() => givingUp.status === "end");
      await until(async () => {
        const names = writer.prisma.$cache.stats().redisServerChanges;
        await writer.prisma.user.findUnique({ where: { id: user.id } });
        return writer.prisma.$cache.stats().circuitOpen === false && writer.prisma.$cache.stats().redisServerChanges === names;
      }, 10_000, 100);
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written after the drop" } });
      expect(writer.prisma.$cache.stats().undeliveredWrites).toBe(0);
      expect((await read())?.name).toBe("written after the drop");
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      admin.disconnect();
      readerRedis.disconnect();
      await chaos.stop();
    }
  });

  it("a replica's address is reported once (its invalidations would be refused); the primary's is not", async () => {
    const primary = await ChaosRedis.start();
    const replica = await ChaosRedis.startReplicaOf(primary);
    const clients: Array<{ redis: Redis; errors: CacheError[]; client: ReturnType<typeof createCachedClient> }> = [];
    try {
      await replica.replicatedFrom(primary);
      for (const server of [replica, primary]) {
        const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
        const errors: CacheError[] = [];
        clients.push({ redis, errors, client: createCachedClient({ redis, onError: (error) => errors.push(error) }) });
      }
      const [onReplica, onPrimary] = clients;
      const user = await seedUser(onReplica!.client.base);
      for (const { client } of clients) await client.prisma.user.findUnique({ where: { id: user.id } });
      await until(() => onReplica!.errors.some((error) => /role:slave/.test(error.message)));
      // (Its other errors are the READONLY replies themselves.)
      expect(onReplica!.errors.filter((error) => /role:slave/.test(error.message))).toEqual([expect.objectContaining({ message: expect.stringMatching(/is a replica .*primary's address/) })]);
      expect(onPrimary!.errors.map((error) => error.message)).toEqual([]);
    } finally {
      for (const { client, redis } of clients) {
        await client.close().catch(() => undefined);
        redis.disconnect();
      }
      await replica.stop();
      await primary.stop();
    }
  }, 60_000);

  it("a memory limit with an eviction policy other than noeviction is reported once (the guarantees rest on keys it may evict)", async () => {
    for (const [policy, reported] of [["allkeys-lru", /maxmemory-policy: allkeys-lru .*sequence, versions and dirty marks/], ["volatile-lru", /maxmemory-policy: volatile-lru .*dirty marks/], ["noeviction", undefined]] as const) {
      const server = await ChaosRedis.start(["--maxmemory", "100mb", "--maxmemory-policy", policy]);
      const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
      const errors: CacheError[] = [];
      const client = createCachedClient({ redis, onError: (error) => errors.push(error) });
      try {
        const user = await seedUser(client.base);
        await client.prisma.user.findUnique({ where: { id: user.id } });
        if (reported === undefined) {
          await client.prisma.user.findUnique({ where: { id: user.id } });
          expect(errors.map((error) => error.message)).toEqual([]);
        } else {
          await until(() => errors.length > 0);
          expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(reported)]);
          // Not a failed command: a setting, named, that the operator may change (outside probe 135: "Redis INFO failed" misled).
          expect(errors[0]).toBeInstanceOf(RedisSettingsError);
          expect(errors[0]).toMatchObject({ code: "E_REDIS_SETTINGS", setting: "maxmemory-policy" });
        }
      } finally {
        await client.close();
        redis.disconnect();
        await server.stop();
      }
    }
  }, 60_000);

  it("under a volatile-* policy a running writer's bump count is never evicted: evictions do not fence the namespace (outside probe 184)", async () => {
    // volatile-ttl evicts the keys with the shortest lifetimes first: entries, marks, and before the
    // filler (2 h) what lives an hour — the bump count did, read as keys gone back once evicted.
    const server = await ChaosRedis.start(["--maxmemory", "8mb", "--maxmemory-policy", "volatile-ttl"]);
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    const namespace = uniqueNamespace();
    const client = createCachedClient({ namespace, redis, onError: () => {} });
    try {
      const user = await seedUser(client.base);
      await client.prisma.user.update({ where: { id: user.id }, data: { name: "first write" } });
      const [bumpCount] = await admin.keys(`{${namespace}}:bumps:*`);
      expect(await admin.pttl(bumpCount!), "no lifetime while it runs").toBe(-1);
      const filler = "x".repeat(10_000);
      const evicted = async () => Number(/evicted_keys:(\d+)/.exec(await admin.info("stats"))![1]);
      for (let i = 0; (await evicted()) < 200; i += 100) {
        const batch = admin.pipeline();
        for (let j = i; j < i + 100; j++) batch.set(`filler:${j}`, filler, "PX", 7_200_000);
        await batch.exec();
      }
      await client.prisma.user.update({ where: { id: user.id }, data: { name: "second write" } });
      // Four rollback checks a second, and the write's own reply, compare the count.
      await sleep(1_000);
      expect(client.prisma.$cache.stats().redisServerChanges).toBe(0);
      expect(await admin.exists(bumpCount!)).toBe(1);
    } finally {
      await client.close();
      redis.disconnect();
      admin.disconnect();
      await server.stop();
    }
  }, 60_000);
});
