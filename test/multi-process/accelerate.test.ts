import { describe, expect, inject, it } from "vitest";
import { startChild } from "../helpers/child-process.ts";
import { createBaseClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { accelerateApp, extendClient } from "../fixtures/accelerate-app.ts";
import { seedUser } from "../helpers/seed.ts";
import { databaseUrl } from "../helpers/databases.ts";

interface WorkerReport {
  before: Array<{ alice: string; user: string; name: string }>;
  afterInvalidate: { alice: string; user: string; name: string };
  afterWrite: { alice: string; user: string; name: string };
}

describe("the Accelerate app in two processes sharing Redis", () => {
  it("a tag invalidated, then a record written, in one process are seen by the other's next read", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    const { base } = createBaseClient();
    const prisma = extendClient(base, { redis, namespace });
    try {
      const user = await seedUser(base, { email: `alice@prisma.io-${namespace}` });
      const env = { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, USER_ID: String(user.id) };
      const worker = startChild<WorkerReport>("accelerate-worker.ts", env);
      const handOver = async (step: number, act: () => Promise<unknown>) => {
        await expect.poll(() => redis.get(`${namespace}:test:ready:${step}`), { timeout: 60_000, interval: 50 }).toBe("1");
        // Each resolves only once every instance, the worker included, has dropped what it changed.
        await act();
        await redis.set(`${namespace}:test:go:${step}`, "1");
      };
      await handOver(1, () => accelerateApp(prisma).invalidateAlice());
      await handOver(2, () => prisma.user.update({ where: { id: user.id }, data: { name: "renamed in the other process" } }));
      const report = await worker.result;
      expect(report.before[0]).toMatchObject({ alice: "miss/db", user: "miss/db" });
      // From L1 once the worker's invalidation subscription is up, from Redis before.
      expect(report.before.at(-1)).toMatchObject({ alice: expect.stringMatching(/^ttl\/l[12]$/), user: expect.stringMatching(/^ttl\/l[12]$/) });
      // The tag dropped only the tagged read; the write dropped the record's reads.
      expect(report.afterInvalidate).toMatchObject({ alice: "miss/db", user: expect.stringMatching(/^ttl\/l[12]$/) });
      expect(report.afterWrite).toMatchObject({ user: "miss/db", name: "renamed in the other process" });
    } finally {
      await prisma.$cache.close();
      await base.$disconnect();
      redis.disconnect();
    }
  });
});
