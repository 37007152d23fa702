import { expect, inject, it } from "vitest";
import { startChild } from "../helpers/child-process.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";
import type { FrozenReaderReport } from "./frozen-reader.ts";
import { databaseUrl } from "../helpers/databases.ts";

/**
 * An instance that stops without closing its connections (a host powered off or cut off by the
 * network: no FIN reaches Redis) leaves its subscriber connection in the server, which counts it
 * among PUBLISH's receivers until TCP keepalive gives up — more than 11 minutes in an outside
 * probe, every write in the fleet waiting a lease for it. Frozen by SIGSTOP, a process is that
 * instance while it stays frozen: once its registration lapsed, a writer ends its subscriber
 * connection, and the next writes wait for nobody. Thawed, it never serves what those writes changed.
 */
it("a writer ends the subscriber connection of an instance whose registration lapsed, and stops waiting for it", async () => {
  const namespace = uniqueNamespace();
  const writer = createCachedClient({ namespace });
  const redis = createRedis();
  try {
    const user = await seedUser(writer.base, { name: "before" });
    const reader = startChild<FrozenReaderReport>("frozen-reader.ts", { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, USER_EMAIL: user.email, OLD_NAME: "before", DURATION_MS: "14000" });
    await reader.printed("ready");
    await until(async () => (await redis.zcount(`{${namespace}}:instances`, Date.now(), "+inf")) === 2, 10_000, 20);
    process.kill(reader.pid, "SIGSTOP");
    let resolvedAt = 0;
    let unwaited = 0;
    try {
      // Its registration lapses a registration lifetime (3 s) after its last heartbeat.
      await until(async () => (await redis.zcount(`{${namespace}}:instances`, Date.now(), "+inf")) === 1, 10_000, 20);
      // Writes wait a lease for it until one of them ended its subscriber connection.
      for (let i = 0; i < 20 && unwaited < 3; i++) {
        const timeouts = writer.prisma.$cache.stats().invalidationAckTimeouts;
        await writer.prisma.user.update({ where: { id: user.id }, data: { name: `written ${i}` } });
        resolvedAt = machineNow();
        unwaited = writer.prisma.$cache.stats().invalidationAckTimeouts === timeouts ? unwaited + 1 : 0;
      }
      expect(unwaited, "three writes in a row acknowledged by everyone PUBLISH reached").toBe(3);
      const subscribers = String(await redis.call("CLIENT", "LIST", "TYPE", "pubsub"));
      expect(subscribers.split("\n").filter((line) => line.includes(`name={${namespace}}:sub:`))).toHaveLength(1);
    } finally {
      process.kill(reader.pid, "SIGCONT");
    }
    const report = await reader.result;
    expect(report.lastOldAt, "a read that started after the write resolved returned the old row").toBeLessThan(resolvedAt);
    expect(report.firstNewAt).toBeGreaterThan(0);
  } finally {
    await writer.close();
    redis.disconnect();
  }
}, 90_000);
