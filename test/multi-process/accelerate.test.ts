import { describe, expect, inject, it } from "vitest";
import { startChild } from "../helpers/child-process.ts";
import { createBaseClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { accelerateApp, extendClient } from "../fixtures/accelerate-app.ts";
import { seedUser } from "../helpers/seed.ts";

interface WorkerReport {
  before: Array<{ alice: string; user: string; name: string }>;
  after: { alice: string; user: string; name: string };
}

describe("the Accelerate app in two processes sharing Redis", () => {
  it("a tag invalidated and a record written in one process are seen by the other's next read", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    const { base } = createBaseClient();
    const prisma = extendClient(base, { redis, namespace });
    try {
      const user = await seedUser(base, { email: `alice@prisma.io-${namespace}` });
      const env = { DATABASE_URL: inject("databaseUrl"), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, USER_ID: String(user.id) };
      const worker = startChild<WorkerReport>("accelerate-worker.ts", env);
      await expect.poll(() => redis.get(`${namespace}:test:ready`), { timeout: 60_000, interval: 50 }).toBe("1");
      // Both resolve only once every instance, the worker included, has dropped what they changed.
      await accelerateApp(prisma).invalidateAlice();
      await prisma.user.update({ where: { id: user.id }, data: { name: "renamed in the other process" } });
      await redis.set(`${namespace}:test:go`, "1");
      const report = await worker.result;
      expect(report.before[0]).toMatchObject({ alice: "miss/db", user: "miss/db" });
      expect(report.before[1]).toMatchObject({ alice: "ttl/l1", user: "ttl/l1" });
      expect(report.after).toEqual({ alice: "miss/db", user: "miss/db", name: "renamed in the other process" });
    } finally {
      await prisma.$cache.close();
      await base.$disconnect();
      redis.disconnect();
    }
  });
});
