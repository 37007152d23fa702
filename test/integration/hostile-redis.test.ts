import { Redis } from "ioredis";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import type { CacheError } from "../../src/index.ts";
import { CorruptEntry, parseEntry, serializeEntry, type CacheEntry } from "../../src/stores/entry.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until } from "../helpers/wait.ts";

/** Waits until `count` instances listen on `channel`. */
async function subscribed(redis: Redis, channel: string, count: number): Promise<void> {
  await until(async () => Number(((await redis.pubsub("NUMSUB", channel)) as [string, number])[1]) >= count);
}

/** L1 hits among `n` reads of one user. */
async function l1HitsOf(client: ReturnType<typeof createCachedClient>, id: number, n: number): Promise<number> {
  const before = client.prisma.$cache.stats().l1Hits;
  for (let i = 0; i < n; i++) await client.prisma.user.findUnique({ where: { id } });
  return client.prisma.$cache.stats().l1Hits - before;
}

describe("messages that do not parse", () => {
  it("are dropped, counted and reported; the instance keeps serving, and L1 recovers", async () => {
    const errors: CacheError[] = [];
    const namespace = uniqueNamespace();
    const client = createCachedClient({ namespace, onError: (error) => errors.push(error) });
    const publisher = createRedis();
    try {
      const user = await seedUser(client.base);
      await subscribed(publisher, `{${namespace}}:events`, 1);
      await client.prisma.user.findUnique({ where: { id: user.id } });
      const junk = [
        "i|w|m|7|not-json",
        'i|w|m|7|{"a":1}',
        "i|w|m|7|null",
        "1|i|w|m|7|not-json",
        '1|i|w|m|7|{"a":1}',
        "1|i|w|m|7|null",
        '1|i|w|m|7|[1,2]',
        '1|i|w|m||["g:User"]',
        "1|z|anything",
        "",
        "\u0000\uffff",
      ];
      const received = await Promise.all(junk.map((message) => publisher.publish(`{${namespace}}:events`, message)));
      expect(Math.min(...received), "the instance is subscribed").toBeGreaterThanOrEqual(1);
      await until(() => client.prisma.$cache.stats().rejectedMessages === junk.length);
      expect(errors.filter((error) => error.code === "E_BAD_MESSAGE")).toHaveLength(junk.length);
      // Reads go on, and L1 serves again once the versions were re-read from Redis.
      expect((await client.prisma.user.findUnique({ where: { id: user.id } }))?.email).toBe(user.email);
      expect(await l1HitsOf(client, user.id, 50)).toBeGreaterThanOrEqual(49);
    } finally {
      publisher.disconnect();
      await client.close();
    }
  });

  it("a forged sequence number does not disable L1: hits recover, and genuine writes still invalidate", async () => {
    const namespace = uniqueNamespace();
    const reader = createCachedClient({ namespace });
    const writer = createCachedClient({ namespace });
    const publisher = createRedis();
    try {
      const user = await seedUser(reader.base);
      await reader.prisma.user.findUnique({ where: { id: user.id } });
      expect(await l1HitsOf(reader, user.id, 50)).toBe(50);
      const channel = `{${namespace}}:events`;
      await subscribed(publisher, channel, 2);
      await publisher.publish(channel, '1|i|x|y|1e300|["g:User","r:User"]');
      // Well formed, with the largest sequence number the format allows: not adopted either.
      await publisher.publish(channel, '1|i|x|y|9007199254740991|["g:User","r:User"]');
      await until(() => reader.prisma.$cache.stats().invalidationsReceived >= 1 && reader.prisma.$cache.stats().rejectedMessages >= 1);
      expect(await l1HitsOf(reader, user.id, 50)).toBeGreaterThanOrEqual(49);
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after the forgery" } });
      expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("after the forgery");
      expect(await l1HitsOf(reader, user.id, 50)).toBeGreaterThanOrEqual(49);
    } finally {
      publisher.disconnect();
      await Promise.all([reader.close(), writer.close()]);
    }
  });
});

describe("one namespace on two logical databases", () => {
  it("instances on db 0 and db 1 do not hear each other's invalidations", async () => {
    const namespace = uniqueNamespace();
    const db1 = new Redis(inject("redisUrl"), { db: 1, maxRetriesPerRequest: 1 });
    const onDb0 = createCachedClient({ namespace });
    const onDb1 = createCachedClient({ namespace, redis: db1 });
    try {
      const user = await seedUser(onDb0.base);
      // Until L1 serves it (a read made before the subscription is live fills no L1: a loaded machine failed this test once).
      await until(async () => (await l1HitsOf(onDb1, user.id, 1)) === 1);
      for (let i = 0; i < 10; i++) await onDb0.prisma.user.update({ where: { id: user.id }, data: { visits: { increment: 1 } } });
      await sleep(100);
      expect(onDb1.prisma.$cache.stats().invalidationsReceived).toBe(0);
      expect(await l1HitsOf(onDb1, user.id, 20)).toBe(20);
      // Its own writes still reach it.
      await onDb1.prisma.user.update({ where: { id: user.id }, data: { name: "db 1 write" } });
      expect((await onDb1.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("db 1 write");
      // Every write is announced before the database and confirmed after it: two invalidations each.
      expect(onDb0.prisma.$cache.stats().invalidationsReceived).toBe(20);
    } finally {
      await Promise.all([onDb0.close(), onDb1.close()]);
      db1.disconnect();
    }
  });
});

describe("corrupt entries in Redis", () => {
  it("are a miss: the read returns the database's row, the entry is replaced, the corruption counted", async () => {
    const errors: CacheError[] = [];
    const namespace = uniqueNamespace();
    const client = createCachedClient({ namespace, l1: false, onError: (error) => errors.push(error) });
    const redis = client.redis!;
    try {
      const user = await seedUser(client.base);
      const read = () => client.prisma.user.findUnique({ where: { id: user.id } });
      const expected = await client.base.user.findUnique({ where: { id: user.id } });
      await read();
      let key = "";
      await until(async () => {
        key = (await redis.keys(`${namespace}:*:User:findUnique:*`)).find((k) => !k.endsWith(":lock")) ?? "";
        return key !== "";
      });
      const valid = parseEntry((await redis.get(key))!) as CacheEntry;
      const corruptions = {
        "valid checksum, truncated payload": serializeEntry({ ...valid, payload: valid.payload.slice(0, valid.payload.length >> 1) }),
        "valid checksum, unknown type tag": serializeEntry({ ...valid, payload: valid.payload.replace(/"\\u0000D/, '"\\u0000Z') }),
        "valid checksum, payload not JSON": serializeEntry({ ...valid, payload: "}{" }),
        "truncated entry": serializeEntry(valid).slice(0, -10),
        "random bytes": Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 7919) % 256)).toString("latin1"),
      };
      for (const [label, text] of Object.entries(corruptions)) {
        await redis.set(key, text, "PX", 60_000);
        const before = client.prisma.$cache.stats();
        expect(await read(), label).toEqual(expected);
        const after = client.prisma.$cache.stats();
        expect(after.corruptEntries - before.corruptEntries, label).toBe(1);
        expect(after.dbLoads - before.dbLoads, label).toBe(1);
        // The corrupt text is gone: deleted, then replaced by the load's fresh entry.
        await until(async () => (await redis.get(key)) !== text);
        const now = await redis.get(key);
        if (now !== null) expect(parseEntry(now), label).not.toBeInstanceOf(CorruptEntry);
      }
      expect(errors.filter((error) => error.code === "E_CORRUPT_ENTRY")).toHaveLength(Object.keys(corruptions).length);
      expect(await read()).toEqual(expected);
    } finally {
      await client.close();
    }
  });
});

describe("a version in Redis that is not a sequence number", () => {
  it("matches no entry, is counted and deleted; caching resumes", async () => {
    const namespace = uniqueNamespace();
    const errors: CacheError[] = [];
    const client = createCachedClient({ namespace, l1: false, onError: (error) => errors.push(error) });
    try {
      const user = await seedUser(client.base);
      const read = () => client.prisma.user.findMany({ where: { id: user.id } });
      await read();
      const generations = `{${namespace}}:v:g:User`;
      expect(await client.redis!.exists(generations)).toBe(1);
      for (const garbage of ["garbage", "", "1e3", "-1"]) {
        await client.redis!.set(generations, garbage);
        const before = client.prisma.$cache.stats();
        expect((await read())[0]?.id, garbage).toBe(user.id);
        const after = client.prisma.$cache.stats();
        expect(after.corruptEntries - before.corruptEntries, garbage).toBe(1);
        await until(async () => (await client.redis!.get(generations)) !== garbage);
      }
      await read();
      const before = client.prisma.$cache.stats().l2Hits;
      expect((await read())[0]?.id).toBe(user.id);
      expect(client.prisma.$cache.stats().l2Hits - before).toBe(1);
      expect(errors.filter((error) => error.code === "E_CORRUPT_ENTRY")).toHaveLength(4);
    } finally {
      await client.close();
    }
  });
});

describe("a corrupt Bloom filter in Redis", () => {
  it("is rebuilt, never trusted: existing records are found", async () => {
    const namespace = uniqueNamespace();
    const models = { User: { bloom: true }, Post: true };
    const builder = createCachedClient({ namespace, models });
    const errors: CacheError[] = [];
    const user = await seedUser(builder.base);
    await builder.prisma.$cache.prepareBloom();
    await builder.close();
    const redis = createRedis();
    try {
      // Filters live under the client's identity (its database) and the model's identities: find where this one was built.
      const [bits] = await redis.keys(`{${namespace}}:*bloom:User:*:bits`);
      expect(bits, "the built filter's bits").toBeDefined();
      const meta = bits!.slice(0, -":bits".length);
      const corruptions: Array<[string, () => Promise<unknown>]> = [
        ["bits truncated", () => redis.set(bits!, "")],
        ["bit count not a number", () => redis.hset(meta, "m", "abc")],
        ["hash count out of range", () => redis.hset(meta, "k", "0")],
      ];
      for (const [label, corrupt] of corruptions) {
        await corrupt();
        const reader = createCachedClient({ namespace, models, onError: (error) => errors.push(error) });
        try {
          await reader.prisma.$cache.prepareBloom();
          expect((await reader.prisma.user.findUnique({ where: { email: user.email } }))?.id, label).toBe(user.id);
          expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.email, label).toBe(user.email);
          expect(reader.prisma.$cache.stats().corruptEntries, label).toBe(1);
          expect(reader.prisma.$cache.stats().bloomBuilds, label).toBe(1);
        } finally {
          await reader.close();
        }
      }
      expect(errors.filter((error) => error.code === "E_CORRUPT_ENTRY")).toHaveLength(corruptions.length);
    } finally {
      redis.disconnect();
    }
  });
});

