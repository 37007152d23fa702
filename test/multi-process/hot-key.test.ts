import { describe, expect, it } from "vitest";
import { LOOKUP, LOOKUP_OR_LOCK } from "../../src/stores/redis-scripts.ts";
import { Redis } from "ioredis";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { runChild } from "../helpers/child-process.ts";
import { seedUser } from "../helpers/seed.ts";
import { databaseUrl } from "../helpers/databases.ts";

interface HotReport {
  wrong: number;
  l1Hits: number;
  l2Hits: number;
  dbLoads: number;
  replicaReads: number;
  hot: { key: string; estimate: number } | undefined;
}

describe("hot keys", () => {
  it("a key read 100 000 times by 2 processes: its Redis reads stay bounded and spread over the replicas", async () => {
    // A private Redis: MONITOR then sees this test's commands only.
    const server = await ChaosRedis.start();
    const setup = createCachedClient({ redis: null });
    const monitor = new Redis(server.url);
    try {
      const user = await seedUser(setup.base);
      const namespace = uniqueNamespace();
      // Count every lookup Redis executes for this namespace's key, by the key it reads: a script's
      // first key, or an MGET's first key (a key that hit before is read with a plain MGET).
      const lookupsByKey = new Map<string, number>();
      const feed = await monitor.monitor();
      feed.on("monitor", (_time: string, args: string[]) => {
        const command = args[0]?.toLowerCase();
        const isScript = command === "evalsha" && (args[1] === LOOKUP.sha || args[1] === LOOKUP_OR_LOCK.sha);
        const key = isScript ? args[3] : command === "mget" ? args[1] : undefined;
        if (key === undefined || !key.includes(`${namespace}:`)) return;
        lookupsByKey.set(key, (lookupsByKey.get(key) ?? 0) + 1);
      });
      const env = { DATABASE_URL: databaseUrl(), REDIS_URL: server.url, NAMESPACE: namespace, USER_ID: String(user.id), READS: "50000", L1_MAX_TTL: "0.02" };
      const reports = await Promise.all([runChild<HotReport>("hot-key-worker.ts", env), runChild<HotReport>("hot-key-worker.ts", env)]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      feed.disconnect();
      for (const report of reports) {
        expect(report.wrong).toBe(0);
        expect(report.hot?.key).toContain("User:findUnique");
        expect(report.l1Hits).toBeGreaterThan(45_000);
      }
      const total = [...lookupsByKey.values()].reduce((a, b) => a + b, 0);
      console.log(`hot key: 100000 reads, ${total} Redis lookups`, Object.fromEntries(lookupsByKey));
      // Until a key is hot (≈ threshold reads per process) every read goes to Redis; after, only L1 expiries do.
      expect(total).toBeLessThan(2_000);
      expect(lookupsByKey.size, "primary and two replicas").toBe(3);
      // Once hot, a lookup picks one of the 3 keys at random: the two replicas share that traffic evenly.
      const replicaCounts = [...lookupsByKey].filter(([key]) => key.startsWith("{r")).map(([, count]) => count);
      expect(Math.min(...replicaCounts)).toBeGreaterThanOrEqual(10);
      expect(Math.max(...replicaCounts) / Math.min(...replicaCounts)).toBeLessThan(2.5);
    } finally {
      monitor.disconnect();
      await setup.close();
      await server.stop();
    }
  }, 90_000);
});
