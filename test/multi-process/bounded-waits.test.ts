import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { startChild } from "../helpers/child-process.ts";
import { createBaseClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import type { LoadReport } from "./load-worker.ts";
import { databaseUrl } from "../helpers/databases.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * No read waits on the cache longer than a documented bound. A lock waiter is woken when the
 * holder's value lands (registered before it tries the lock, so no wake-up is lost), waits about
 * as long as the model's loads take, and loads by itself after that: with Redis healthy no wait
 * ends by timeout; with Redis stalled, reads fall through to the database within the bound.
 */
describe("bounded waits", () => {
  it(
    "fault-free load (4 processes × 16 readers + 1 writer, zipf keys): no lock wait times out, no read waits for lockTtl",
    async () => {
      const reports = await runLoad({ redisUrl: inject("redisUrl"), durationMs: 10_000 });
      const sum = (pick: (r: LoadReport) => number) => reports.reduce((total, r) => total + pick(r), 0);
      console.log(`fault-free load: ${JSON.stringify(reports)}`);
      expect(sum((r) => r.readErrors), reports.flatMap((r) => r.errorSamples).join("\n")).toBe(0);
      // The run exercised the fleet lock: reads waited for other instances' loads.
      expect(sum((r) => r.reads)).toBeGreaterThan(2_000);
      expect(sum((r) => r.lockWaits)).toBeGreaterThan(0);
      expect(sum((r) => r.lockWaitTimeouts)).toBe(0);
      expect(sum((r) => r.readsOverLockTtl)).toBe(0);
    },
    120_000,
  );

  it(
    "Redis stalled 8 s (DEBUG SLEEP 8) under load: every read finishes well before the stall ends",
    async () => {
      const server = await ChaosRedis.start(["--enable-debug-command", "yes"]);
      const admin = new Redis(server.url, { maxRetriesPerRequest: 0 });
      try {
        // Fewer readers than above: the database, not the cache, would dominate the reads' time.
        // A lock TTL longer than the stall: a waiter bounded by it alone would wait the stall out.
        const run = runLoad({ redisUrl: server.url, durationMs: 14_000, readers: 8, lockTtl: 15_000, onStarted: async () => {
          // Let the instances learn their load times, then stall Redis in the middle of the run.
          await sleep(3_000);
          await admin.call("DEBUG", "SLEEP", "8");
        } });
        const reports = await run;
        console.log(`DEBUG SLEEP 8: ${JSON.stringify(reports)}`);
        const max = Math.max(...reports.map((r) => r.maxReadMs));
        expect(reports.reduce((total, r) => total + r.readErrors, 0)).toBe(0);
        // Reads did hit the stall (Redis calls timed out) and none waited for it to end: a Redis
        // call gives up after redisTimeout (250 ms), a lock waiter once its lease lapsed (1 s);
        // the rest of the margin is for the database on a loaded machine.
        expect(reports.reduce((total, r) => total + r.redisTimeouts, 0)).toBeGreaterThan(0);
        expect(max).toBeLessThan(6_000);
      } finally {
        admin.disconnect();
        await server.stop();
      }
    },
    120_000,
  );
});

/** Seeds 300 users, runs 4 load-worker processes on one namespace, and returns their reports. */
async function runLoad({ redisUrl, durationMs, readers = 16, lockTtl = 5_000, onStarted }: { redisUrl: string; durationMs: number; readers?: number; lockTtl?: number; onStarted?: () => Promise<void> }): Promise<LoadReport[]> {
  const { base, pool } = createBaseClient();
  try {
    const tag = uniqueNamespace();
    await base.user.createMany({ data: Array.from({ length: 300 }, (_, i) => ({ email: `load-${tag}-${i}@example.com`, name: `u${i}` })) });
    const users = (await base.user.findMany({ where: { email: { startsWith: `load-${tag}-` } }, select: { id: true }, orderBy: { id: "asc" } })).map((u) => u.id);
    const namespace = uniqueNamespace();
    const env = {
      DATABASE_URL: databaseUrl(), REDIS_URL: redisUrl, NAMESPACE: namespace, INSTANCES: "4", USERS: JSON.stringify(users),
      READERS: String(readers), WRITERS: "1", DURATION_MS: String(durationMs), LOCK_TTL: String(lockTtl),
    };
    const children = [1, 2, 3, 4].map((i) => startChild<LoadReport>("load-worker.ts", { ...env, SEED: String(i * 7919 + (Date.now() % 1000)) }, durationMs + 60_000));
    if (onStarted !== undefined) {
      await Promise.all(children.map((child) => child.printed("started")));
      await onStarted();
    }
    return await Promise.all(children.map((child) => child.result));
  } finally {
    await base.$disconnect();
    await pool.end();
  }
}
