import { inject, describe, expect, it } from "vitest";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { runChild, startChild } from "../helpers/child-process.ts";
import { seedUser } from "../helpers/seed.ts";
import { databaseUrl } from "../helpers/databases.ts";

interface HerdReport {
  queries: number;
  correct: number;
  dbLoads: number;
  lockAcquisitions: number;
  lockWaits: number;
  lockWaitTimeouts: number;
  coalesced: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("thundering herd across processes", () => {
  it("4 processes × 250 concurrent reads of one cold key: exactly one database query in total", async () => {
    const setup = createCachedClient();
    try {
      const user = await seedUser(setup.base);
      const namespace = uniqueNamespace();
      const env = {
        DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, INSTANCES: "4", READS: "250",
        DELAY_MS: "300", AUTHOR_ID: String(user.id), EXPECTED_POST_ID: String(Math.min(...user.posts.map((post) => post.id))),
      };
      const reports = await Promise.all([1, 2, 3, 4].map(() => runChild<HerdReport>("herd-worker.ts", env)));
      expect(reports.map((r) => r.correct)).toEqual([250, 250, 250, 250]);
      expect(reports.reduce((sum, r) => sum + r.queries, 0)).toBe(1);
      expect(reports.reduce((sum, r) => sum + r.lockAcquisitions, 0)).toBe(1);
      // The three other instances waited for the holder's value instead of loading.
      expect(reports.filter((r) => r.lockWaits > 0)).toHaveLength(3);
    } finally {
      await setup.close();
    }
  }, 90_000);

  it("processes that served the model's fast entries from Redis still leave a slow cold load (1.5 s) to one holder (outside probe 107: bounding their wait by those entries' load time made 3 processes load it)", async () => {
    const namespace = uniqueNamespace();
    const setup = createCachedClient({ namespace, models: { Post: true } });
    try {
      const user = await seedUser(setup.base);
      const [first, second] = [...user.posts].sort((a, b) => a.id - b.id);
      await setup.prisma.post.findUnique({ where: { id: second!.id } });
      const env = {
        DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, INSTANCES: "3", READS: "100",
        DELAY_MS: "1500", AUTHOR_ID: String(user.id), EXPECTED_POST_ID: String(first!.id), PRE_READ_POST_ID: String(second!.id),
      };
      const reports = await Promise.all([1, 2, 3].map(() => runChild<HerdReport>("herd-worker.ts", env)));
      expect(reports.map((r) => r.correct)).toEqual([100, 100, 100]);
      expect(reports.reduce((sum, r) => sum + r.queries, 0)).toBe(1);
    } finally {
      await setup.close();
    }
  }, 90_000);

  it("a herd on a slow load (3 s), seconds after the processes last loaded the model fast, still loads once: waiters past their bound go on while the holder keeps its lock alive, window after window (outside probes 137, 138, 139: one load per process)", async () => {
    const namespace = uniqueNamespace();
    const setup = createCachedClient({ namespace, models: { Post: true } });
    try {
      const user = await seedUser(setup.base);
      const env = {
        DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, INSTANCES: "3", READS: "50", WARM_LOAD_MS: "3000",
        DELAY_MS: "3000", AUTHOR_ID: String(user.id), EXPECTED_POST_ID: String(Math.min(...user.posts.map((post) => post.id))),
      };
      const reports = await Promise.all([1, 2, 3].map(() => runChild<HerdReport>("herd-worker.ts", env)));
      console.log(`slow herd after fast loads: ${JSON.stringify(reports)}`);
      expect(reports.map((r) => r.correct)).toEqual([50, 50, 50]);
      expect(reports.reduce((sum, r) => sum + r.queries, 0)).toBe(1);
      // The waiters were woken by the holder's landing, past their bound: no wait timed out.
      expect(reports.map((r) => r.lockWaitTimeouts)).toEqual([0, 0, 0]);
    } finally {
      await setup.close();
    }
  }, 90_000);

  it("a herd whose waiters' subscriptions Redis drops (three times) while they wait still loads once: they look again, and wait anew once resubscribed (outside probes 124, 127, 137: each waiter loaded by itself)", async () => {
    const namespace = uniqueNamespace();
    const setup = createCachedClient({ namespace, models: { Post: true } });
    const admin = createRedis();
    try {
      const user = await seedUser(setup.base);
      const connectionName = `herd-${namespace}`;
      const env = {
        DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, INSTANCES: "3", READS: "50", CONNECTION_NAME: connectionName,
        DELAY_MS: "1500", AUTHOR_ID: String(user.id), EXPECTED_POST_ID: String(Math.min(...user.posts.map((post) => post.id))),
      };
      const workers = [1, 2, 3].map(() => startChild<HerdReport>("herd-worker.ts", env, 90_000));
      let lockKeys: string[] = [];
      for (let i = 0; i < 1_000 && lockKeys.length === 0; i++) {
        await sleep(20);
        lockKeys = (await admin.keys(`${namespace}:*:lock`)).filter((key) => !key.endsWith(":waited:lock"));
      }
      expect(lockKeys).toHaveLength(1);
      // The two other processes are waiting for the holder's 1.5 s load: drop every subscription of
      // the three, three times (each resubscription wakes the waiters to look: outside probe 137
      // saw that use up their attempts, and every process load).
      await sleep(300);
      const killed = [];
      for (let round = 0; round < 3; round++) {
        killed.push(await killSubscribers(admin, connectionName));
        await sleep(250);
      }
      expect(killed[0]).toBe(3);
      expect(killed.reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(5);
      const reports = await Promise.all(workers.map((worker) => worker.result));
      console.log(`dropped subscriptions in a herd: ${JSON.stringify(reports)}`);
      expect(reports.map((r) => r.correct)).toEqual([50, 50, 50]);
      expect(reports.reduce((sum, r) => sum + r.queries, 0)).toBe(1);
    } finally {
      admin.disconnect();
      await setup.close();
    }
  }, 90_000);

  it("a waiter whose wall clock steps back during its wait still gives up within its bound (waits are timed on the monotonic clock; found by an outside probe)", async () => {
    const setup = createCachedClient();
    const redis = createRedis();
    try {
      const user = await seedUser(setup.base);
      const namespace = uniqueNamespace();
      const env = { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, AUTHOR_ID: String(user.id), HOLD_MS: "25000", STEP_MS: "600000" };
      const holder = startChild<{ readMs: number }>("clock-step-worker.ts", { ...env, ROLE: "holder" }, 90_000);
      await holder.printed("loading");
      for (let i = 0; i < 400 && (await redis.keys(`${namespace}:*:lock`)).length === 0; i++) await sleep(10);
      let holderDone = false;
      holder.result.then(() => (holderDone = true), () => {});
      const waiter = await runChild<{ readMs: number; lockWaits: number; lockWaitTimeouts: number; dbLoads: number }>("clock-step-worker.ts", { ...env, ROLE: "waiter" }, 90_000);
      // Its bound is lockTtl (5 s) at most: it loads by itself long before the holder's 25 s load lands.
      expect(holderDone, "the waiter waited for the holder's whole load").toBe(false);
      expect(waiter.lockWaits).toBeGreaterThan(0);
      expect(waiter.dbLoads).toBe(1);
      // Nothing is asserted of the holder's 25 s load: stop it rather than wait for it.
      holder.kill();
    } finally {
      redis.disconnect();
      await setup.close();
    }
  }, 120_000);

  it("when the lock holder dies mid-load, the others load by themselves once its lock expires", async () => {
    const setup = createCachedClient();
    const redis = createRedis();
    try {
      const user = await seedUser(setup.base);
      const namespace = uniqueNamespace();
      const common = {
        DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, READS: "20",
        LOCK_TTL: "2000", AUTHOR_ID: String(user.id), EXPECTED_POST_ID: String(Math.min(...user.posts.map((post) => post.id))),
      };
      // The holder's database answers in 60 s: it takes the lock and hangs in its load.
      const holder = startChild<HerdReport>("herd-worker.ts", { ...common, INSTANCES: "1", DELAY_MS: "60000" });
      holder.result.catch(() => {});
      let lockKeys: string[] = [];
      for (let i = 0; i < 1_000 && lockKeys.length === 0; i++) {
        await sleep(20);
        lockKeys = (await redis.keys(`${namespace}:*:lock`)).filter((key) => !key.endsWith(":waited:lock"));
      }
      expect(lockKeys).toHaveLength(1);
      const waiter = startChild<HerdReport>("herd-worker.ts", { ...common, INSTANCES: "1", DELAY_MS: "50" });
      // Each worker counts itself in at the barrier just before it reads: kill the holder once the waiter is reading.
      for (let i = 0; i < 1_000 && Number(await redis.get(`${namespace}:barrier`)) < 2; i++) await sleep(20);
      await sleep(200);
      holder.kill();
      const report = await waiter.result;
      expect(report.correct).toBe(20);
      expect(report.lockWaits).toBeGreaterThanOrEqual(1);
      expect(report.dbLoads).toBe(1);
    } finally {
      redis.disconnect();
      await setup.close();
    }
  }, 90_000);
});

/** Kills the subscriber connections whose name starts with `name/` (the cache names them after the application's connection); how many. */
async function killSubscribers(admin: ReturnType<typeof createRedis>, name: string): Promise<number> {
  let killed = 0;
  for (const line of ((await admin.client("LIST")) as string).split("\n")) {
    const fields = Object.fromEntries(line.split(" ").map((field) => field.split("=", 2) as [string, string]));
    if (fields.name?.startsWith(`${name}/`) && Number(fields.sub ?? 0) > 0) killed += Number(await admin.client("KILL", "ID", fields.id!));
  }
  return killed;
}
