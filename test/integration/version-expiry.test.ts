import { describe, expect, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

/** Every version key of a namespace with its remaining lifetime in ms (-1: none). */
async function versionKeys(redis: NonNullable<ReturnType<typeof createCachedClient>["redis"]>, namespace: string): Promise<Map<string, number>> {
  const keys = await redis.keys(`{${namespace}}:v:*`);
  const out = new Map<string, number>();
  for (const key of keys) out.set(key.slice(`{${namespace}}:v:`.length), await redis.pttl(key));
  return out;
}

describe("tag versions expire, and never return to an earlier value", () => {
  it("tag version keys (identities and user tags) expire; model generations do not", async () => {
    const namespace = uniqueNamespace();
    const client = createCachedClient({ namespace, ttl: 5, negativeTtl: 0, jitter: 0 });
    try {
      const user = await seedUser(client.base);
      await client.prisma.user.findUnique({ where: { id: user.id } });
      await client.prisma.post.findMany({ where: { authorId: user.id }, cache: { tags: ["tenant-1"] } });
      for (let i = 0; i < 20; i++) await client.prisma.$cache.invalidate({ tags: [`per-user-${i}`] });
      await client.prisma.user.update({ where: { id: user.id }, data: { name: "x" } });
      const keys = await versionKeys(client.redis!, namespace);
      const tags = [...keys].filter(([name]) => name.startsWith("t:") || name.startsWith("u:"));
      expect(tags.length).toBeGreaterThanOrEqual(22);
      for (const [name, pttl] of tags) expect(pttl, name).toBeGreaterThan(0);
      // At least the longest entry lifetime of the instance (5 s here).
      for (const [name, pttl] of tags) expect(pttl, name).toBeGreaterThan(5_000);
      for (const [name, pttl] of keys) if (name.startsWith("g:") || name.startsWith("r:")) expect(pttl, name).toBe(-1);
    } finally {
      await client.close();
    }
  });

  it("what one database leaves in Redis expires: its schema epoch and its Bloom filter (outside probe 136: a database per tenant or preview left ≈ 100 KB each, forever)", async () => {
    const namespace = uniqueNamespace();
    const client = createCachedClient({ namespace, ttl: 5, negativeTtl: 0, jitter: 0, models: { User: { bloom: { maxAge: 120 } } } });
    try {
      const user = await seedUser(client.base);
      await client.prisma.$cache.prepareBloom();
      expect((await client.prisma.user.findUnique({ where: { id: user.id } }))?.id).toBe(user.id);
      const epochs = [...(await versionKeys(client.redis!, namespace))].filter(([name]) => name.startsWith("s:"));
      expect(epochs).toHaveLength(1);
      for (const [name, pttl] of epochs) expect(pttl, name).toBeGreaterThan(5_000);
      const filterKeys = await client.redis!.keys(`{${namespace}}:*bloom:User:*`);
      expect(filterKeys.length).toBeGreaterThanOrEqual(2);
      for (const key of filterKeys) {
        const pttl = await client.redis!.pttl(key);
        // Twice maxAge at most: it is distrusted and rebuilt at maxAge anyway.
        expect(pttl, key).toBeGreaterThan(0);
        expect(pttl, key).toBeLessThanOrEqual(240_000);
      }
    } finally {
      await client.close();
    }
  });

  it("a writer with a short lifetime keeps tags alive as long as the fleet's longest entry", async () => {
    const namespace = uniqueNamespace();
    const longLived = createCachedClient({ namespace, ttl: 600, negativeTtl: 0, jitter: 0, l1: false });
    const shortLived = createCachedClient({ namespace, ttl: 1, negativeTtl: 0, jitter: 0 });
    try {
      const user = await seedUser(longLived.base);
      await longLived.prisma.user.findUnique({ where: { id: user.id } });
      await shortLived.prisma.user.update({ where: { id: user.id }, data: { name: "written by the short-lived writer" } });
      const tags = [...(await versionKeys(longLived.redis!, namespace))].filter(([name]) => name.startsWith("t:User"));
      expect(tags.length).toBeGreaterThan(0);
      for (const [name, pttl] of tags) expect(pttl, name).toBeGreaterThan(600_000);
    } finally {
      await Promise.all([longLived.close(), shortLived.close()]);
    }
  });

  it("a tag created with a short lifetime (or none, by an older version) is extended before a longer-lived instance stores an entry depending on it", async () => {
    const namespace = uniqueNamespace();
    const shortLived = createCachedClient({ namespace, ttl: 1, negativeTtl: 0, jitter: 0 });
    const longLived = createCachedClient({ namespace, ttl: 600, negativeTtl: 0, jitter: 0, l1: false });
    try {
      const [first, second] = [await seedUser(shortLived.base), await seedUser(shortLived.base)];
      await shortLived.prisma.user.findUnique({ where: { id: first.id } });
      const redis = shortLived.redis!;
      const pttlOf = async (tag: string) => (await versionKeys(redis, namespace)).get(tag);
      const firstTag = `t:User:id=${JSON.stringify([String(first.id)])}`;
      const secondTag = `t:User:email=${JSON.stringify([second.email])}`;
      expect(await pttlOf(firstTag)).toBeLessThan(600_000);
      // A permanent tag, as versions before tag expiry left them.
      await redis.set(`{${namespace}}:v:${secondTag}`, "0");
      // A hit on the short-lived instance's entry stores nothing, so it extends nothing; once that
      // entry is gone (evicted here), the long-lived instance's miss extends the tag before it stores.
      await longLived.prisma.user.findUnique({ where: { id: first.id } });
      expect(longLived.prisma.$cache.stats().l2Hits).toBe(1);
      for (const key of await redis.keys(`${namespace}:*:User:findUnique:*`)) await redis.del(key);
      await longLived.prisma.user.findUnique({ where: { id: first.id } });
      await longLived.prisma.user.findUnique({ where: { email: second.email } });
      expect(longLived.prisma.$cache.stats().dbLoads).toBe(2);
      expect(await pttlOf(firstTag)).toBeGreaterThan(600_000);
      expect(await pttlOf(secondTag)).toBeGreaterThan(600_000);
    } finally {
      await Promise.all([longLived.close(), shortLived.close()]);
    }
  });

  it("once a bumped tag expires, an entry stored before the write is never served again", async () => {
    const namespace = uniqueNamespace();
    // The reader keeps entries 10 minutes; the writer's own settings are short.
    const reader = createCachedClient({ namespace, ttl: 600, negativeTtl: 0, jitter: 0, l1: false });
    const writer = createCachedClient({ namespace, ttl: 1, negativeTtl: 0, jitter: 0 });
    try {
      const user = await seedUser(reader.base);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      expect((await read())?.name).toBe(user.name);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await read())?.name, "served from Redis").toBe(user.name);
      expect(reader.prisma.$cache.stats().l2Hits).toBe(1);
      // Nobody reads the record between the write and the expiry: the old entry stays in Redis.
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after the write" } });
      // Every tag of the namespace expires (what a writer's short schedule or eviction does);
      // other writes move the sequence on meanwhile.
      const redis = reader.redis!;
      for (const name of (await versionKeys(redis, namespace)).keys()) if (name.startsWith("t:")) await redis.del(`{${namespace}}:v:${name}`);
      await writer.prisma.post.create({ data: { slug: `other-${user.id}-${Date.now()}`, title: "moves the sequence", authorId: user.id } });
      for (let i = 0; i < 3; i++) expect((await read())?.name, `read ${i} after the tags expired`).toBe("after the write");
    } finally {
      await Promise.all([reader.close(), writer.close()]);
    }
  });

  it("a version re-created while the sequence is gone too (deleted by hand, a swap to an empty database) is above every earlier one: the entry stored before the namespace's first write never matches again (outside probe 102: stale for up to 128 ms, 10 of 10 trials)", async () => {
    const namespace = uniqueNamespace();
    const reader = createCachedClient({ namespace, ttl: 600, negativeTtl: 0, jitter: 0, l1: false });
    const writer = createCachedClient({ namespace, ttl: 600, negativeTtl: 0, jitter: 0 });
    try {
      const user = await seedUser(reader.base);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      // Stored before any write of the namespace: it recorded the versions created then (at 0).
      expect((await read())?.name).toBe(user.name);
      await until(async () => ((await read())?.name === user.name, reader.prisma.$cache.stats().l2Hits > 0));
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after the write" } });
      const redis = reader.redis!;
      const names = [...(await versionKeys(redis, namespace)).keys()].filter((name) => name.startsWith("t:User:"));
      expect(names.length).toBeGreaterThan(0);
      await redis.del(`{${namespace}}:seq`, ...names.map((name) => `{${namespace}}:v:${name}`));
      for (let i = 0; i < 3; i++) expect((await read())?.name, `read ${i} after the sequence and the tags went`).toBe("after the write");
      expect(Number(await redis.get(`{${namespace}}:seq`)), "re-created from the server's clock").toBeGreaterThan(Date.now() * 1000 - 60_000_000);
    } finally {
      await Promise.all([reader.close(), writer.close()]);
    }
  });
});
