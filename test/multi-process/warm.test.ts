import { inject, describe, expect, it } from "vitest";
import type { WarmResult } from "../../src/index.ts";
import { runChild } from "../helpers/child-process.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { deleteEntries, queriesFor, seedUsers, serveTraffic } from "../helpers/stats.ts";
import { databaseUrl } from "../helpers/databases.ts";

interface WarmReport extends WarmResult {
  queries: number;
  progressCalls: number;
  dbLoads: number;
  lockWaits: number;
  l2Hits: number;
}

describe("warm() across processes", () => {
  it("3 instances warming at once load each top query once in total", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    const app = createCachedClient({ namespace, models: { User: true, Post: true } });
    try {
      const queries = queriesFor(await seedUsers(app.base, 8));
      await serveTraffic(app.prisma, queries, 24);
      await app.prisma.$cache.drain();
      expect(await app.prisma.$cache.topQueries({ limit: 100 })).toHaveLength(queries.length);
      // The deploy: the old instance is gone and Redis holds no entries, only the statistics.
      await app.close();
      await deleteEntries(redis, namespace);

      const top = 20;
      const env = { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, INSTANCES: "3", TOP: String(top), DELAY_MS: "100" };
      const reports = await Promise.all([1, 2, 3].map(() => runChild<WarmReport>("warm-worker.ts", env, 90_000)));
      console.log(`3 instances warming top ${top}: DB loads ${reports.map((r) => r.dbLoads).join(" + ")}, lock waits ${reports.map((r) => r.lockWaits).join(" + ")}, L2 hits ${reports.map((r) => r.l2Hits).join(" + ")}`);
      for (const report of reports) {
        expect(report).toMatchObject({ warmed: top, failed: 0, skipped: 0, total: top, progressCalls: top });
      }
      expect(reports.reduce((sum, report) => sum + report.dbLoads, 0), "each top query loaded once by the whole fleet").toBe(top);
      // Prisma may batch concurrent findUnique loads into one statement: at most one statement per query.
      expect(reports.reduce((sum, report) => sum + report.queries, 0)).toBeLessThanOrEqual(top);
      // They warmed the same queries at the same moment: some waited for another instance's loader.
      expect(reports.reduce((sum, report) => sum + report.lockWaits, 0)).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});
