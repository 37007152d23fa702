import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { startChild } from "../helpers/child-process.ts";
import { createBaseClient, createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";
import { sleep } from "../helpers/wait.ts";
import type { FailoverReaderReport } from "./failover-reader.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { databaseUrl } from "../helpers/databases.ts";

const USERS = 20;
const OLD_NAME = "before the failover";
const NEW_NAME = "written just before the failover";
const now = machineNow;
/** Slack allowed between processes' readings of the machine's monotonic clock (none is expected). */
const SKEW_MS = 5;

/**
 * Failover with asynchronous replication: the replica is promoted without the primary's last
 * writes (their version bumps and dirty marks never reached it), while it holds every entry
 * cached before them, whose recorded versions it still calls current. The clients reach Redis
 * through a proxy that the failover points at the promoted replica (as a virtual IP, a DNS name
 * or Sentinel does). Readers in other processes, with and without L1, must never return a row
 * older than the writes that resolved before the failover.
 */
describe("failover to a replica that missed the last writes", () => {
  it(
    "no reader, in any process, returns the old rows after the writes resolved; a newcomer neither",
    async () => {
      const primary = await ChaosRedis.start();
      const replica = await ChaosRedis.startReplicaOf(primary);
      const proxy = await TcpProxy.start(primary.port);
      const { base } = createBaseClient();
      const namespace = uniqueNamespace();
      const writer = createCachedClient({ namespace, redis: new Redis(proxy.url, { maxRetriesPerRequest: 1 }), models: { User: { ttl: 300 } }, onError: () => {} });
      try {
        const users = await Promise.all(Array.from({ length: USERS }, (_, i) => base.user.create({ data: { email: `failover-${namespace}-${i}@example.com`, name: OLD_NAME } })));
        const ids = users.map((user) => user.id);
        const common = { DATABASE_URL: databaseUrl(), REDIS_URL: proxy.url, NAMESPACE: namespace, USER_IDS: ids.join(","), OLD_NAME, DURATION_MS: "9000" };
        const readers = ["on", "off"].map((l1) => startChild<FailoverReaderReport>("failover-reader.ts", { ...common, L1: l1 }, 60_000));
        await Promise.all(readers.map((reader) => reader.printed("warm")));

        // The replica holds every entry the readers cached, and their versions; then it stops
        // replicating (promoted), and the primary takes writes it will never see.
        await replica.replicatedFrom(primary);
        await replica.promote();
        await Promise.all(ids.map((id) => writer.prisma.user.update({ where: { id }, data: { name: NEW_NAME } })));
        const resolvedAt = now();
        await sleep(300);
        // The primary dies; its address now leads to the promoted replica.
        await primary.stop();
        proxy.switchTo(replica.port);
        const switchedAt = now();

        const reports = await Promise.all(readers.map((reader) => reader.result));
        const stale = reports.map((report) => report.oldAt.filter((at) => at > resolvedAt + SKEW_MS).length);
        console.log(`failover: stale reads after the writes resolved, per reader (L1 on, L1 off): ${stale.join(", ")}; reads ${reports.map((report) => report.reads).join(", ")}; L1 hits ${reports.map((report) => report.l1Hits).join(", ")}; L2 hits ${reports.map((report) => report.l2Hits).join(", ")}; server changes seen ${reports.map((report) => report.redisServerChanges).join(", ")}`);
        for (const report of reports) {
          expect(report.failures).toEqual([]);
          const afterSwitch = Object.entries(report.perSecond).filter(([second]) => Number(second) * 1000 > switchedAt + 1_000);
          expect(afterSwitch.reduce((sum, [, count]) => sum + count, 0), "reads after the failover").toBeGreaterThan(100);
          // Each reader saw its server change, and served from the cache again afterwards.
          expect(report.redisServerChanges).toBeGreaterThanOrEqual(1);
          const seconds = Object.keys(report.hitsBySecond).map(Number).sort((a, b) => a - b);
          const atSwitch = report.hitsBySecond[String(seconds.filter((second) => second * 1000 <= switchedAt).pop())]!;
          expect(report.hitsBySecond[String(seconds.at(-1))]! - atSwitch, "cache hits after the failover").toBeGreaterThan(100);
        }
        expect(stale, "reads that started after the writes resolved and returned the old rows").toEqual([0, 0]);

        // A process that starts after the failover never knew the old primary: it must not trust the replica's entries either.
        const newcomer = createCachedClient({ namespace, redis: new Redis(replica.url, { maxRetriesPerRequest: 1 }), models: { User: { ttl: 300 } } });
        try {
          const names = await Promise.all(ids.map(async (id) => (await newcomer.prisma.user.findUnique({ where: { id } }))?.name));
          expect(new Set(names)).toEqual(new Set([NEW_NAME]));
        } finally {
          await newcomer.close();
          newcomer.redis?.disconnect();
        }
      } finally {
        await writer.close().catch(() => {});
        writer.redis?.disconnect();
        await base.$disconnect();
        await proxy.stop();
        await primary.stop();
        await replica.stop();
      }
    },
    120_000,
  );
});
