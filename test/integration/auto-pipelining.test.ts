import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import type { CacheError } from "../../src/index.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";

/**
 * Many apps turn on ioredis' `enableAutoPipelining`. Its auto-pipeline sends a generic
 * `callBuffer("EVALSHA", sha, …)` with the sha as the command name ("ERR unknown command"), which
 * made every Bloom filter load fail: the guard never served, and every load was reported.
 */
describe("a Redis client with enableAutoPipelining", () => {
  it("serves reads, invalidates writes and loads Bloom filters like any client", async () => {
    const namespace = uniqueNamespace();
    const errors: CacheError[] = [];
    const open = () => {
      const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1, enableAutoPipelining: true });
      // A generous redisTimeout: the test is about commands auto-pipelining breaks, not a loaded machine's slow replies.
      return createCachedClient({ namespace, redis, redisTimeout: 3_000, models: { User: { bloom: true } }, onError: (error) => errors.push(error) });
    };
    const [a, b] = [open(), open()];
    try {
      const user = await seedUser(a.base);
      await a.prisma.$cache.prepareBloom();
      await b.prisma.$cache.prepareBloom();
      expect((await b.prisma.user.findUnique({ where: { id: user.id } }))?.email).toBe(user.email);
      expect((await b.prisma.user.findUnique({ where: { id: user.id } }))?.email).toBe(user.email);
      await a.prisma.user.update({ where: { id: user.id }, data: { name: "renamed with auto-pipelining" } });
      expect((await b.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("renamed with auto-pipelining");
      const created = await a.prisma.user.create({ data: { email: `pipelined-${namespace}@example.com`, name: "new" } });
      expect((await b.prisma.user.findUnique({ where: { email: created.email } }))?.id).toBe(created.id);
      // An identity no row ever had: answered by b's Bloom filter, loaded from Redis, without the database.
      const queries = b.pool.queries;
      expect(await b.prisma.user.findUnique({ where: { email: `never-${namespace}@example.com` } })).toBeNull();
      expect(b.pool.queries).toBe(queries);
      expect(b.prisma.$cache.stats()).toMatchObject({ redisErrors: 0, redisTimeouts: 0 });
      expect(b.prisma.$cache.stats().l1Hits + b.prisma.$cache.stats().l2Hits).toBeGreaterThan(0);
      expect(errors.map((error) => error.message)).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
      a.redis?.disconnect();
      b.redis?.disconnect();
    }
  }, 30_000);
});
