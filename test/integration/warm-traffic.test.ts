import { describe, expect, it } from "vitest";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { seededRandom, zipf } from "../helpers/random.ts";
import { deleteEntries } from "../helpers/stats.ts";

const ROWS = 500;
const READS = 5_000;
const TOP = 100;

describe("warm() from statistics that reflect the traffic", () => {
  it("after 5 000 zipf(1.1) reads over 500 rows served by two instances, a fresh instance's warm({ top: 100 }) serves ≥ 90 of the true top 100 without the database", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    const a = createCachedClient({ namespace, models: { User: true } });
    const b = createCachedClient({ namespace, models: { User: true } });
    let fresh: ReturnType<typeof createCachedClient> | undefined;
    try {
      const tag = namespace.replace(/[^a-z0-9]/gi, "");
      await a.base.user.createMany({ data: Array.from({ length: ROWS }, (_, i) => ({ email: `${tag}-${i}@warm.test`, name: `Warm ${i}`, balance: "1", visits: 1n, score: 1, profile: {} })) });
      const ids = (await a.base.user.findMany({ where: { email: { startsWith: `${tag}-` } }, select: { id: true }, orderBy: { id: "asc" } })).map((user) => user.id);
      expect(ids).toHaveLength(ROWS);

      // The traffic: zipf(1.1) over the rows, alternating between the two instances.
      const next = zipf(ROWS, 1.1, seededRandom(12));
      const readsPerId = new Map<number, number>();
      for (let i = 0; i < READS; i++) {
        const id = ids[next()]!;
        readsPerId.set(id, (readsPerId.get(id) ?? 0) + 1);
        await (i % 2 === 0 ? a : b).prisma.user.findUnique({ where: { id } });
      }
      await Promise.all([a.prisma.$cache.drain(), b.prisma.$cache.drain()]);
      const counted = a.prisma.$cache.stats().queryStats.counted + b.prisma.$cache.stats().queryStats.counted;
      expect(counted).toBe(READS);
      await Promise.all([a.close(), b.close()]);
      // The entries expire (a quiet period); the fleet's statistics stay.
      expect(await deleteEntries(redis, namespace)).toBeGreaterThan(0);

      fresh = createCachedClient({ namespace, models: { User: true } });
      const result = await fresh.prisma.$cache.warm({ top: TOP });
      expect(result).toMatchObject({ total: TOP, warmed: TOP, failed: 0, skipped: 0 });
      const trueTop = [...readsPerId].sort((x, y) => y[1] - x[1]).slice(0, TOP).map(([id]) => id);
      const before = fresh.pool.queries;
      let fromDatabase = 0;
      for (const id of trueTop) {
        const queries = fresh.pool.queries;
        await fresh.prisma.user.findUnique({ where: { id } });
        if (fresh.pool.queries > queries) fromDatabase++;
      }
      const served = (TOP - fromDatabase) / TOP;
      console.log(`true top ${TOP} after warm(): ${TOP - fromDatabase} served without the database (${fresh.pool.queries - before} DB queries); ${counted} reads counted`);
      expect(served).toBeGreaterThanOrEqual(0.9);
    } finally {
      await fresh?.close();
      redis.disconnect();
    }
  }, 120_000);
});
