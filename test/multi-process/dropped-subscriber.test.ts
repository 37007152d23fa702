import { describe, expect, inject, it } from "vitest";
import { startChild } from "../helpers/child-process.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import type { LeaseReaderReport } from "./lease-reader.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { databaseUrl } from "../helpers/databases.ts";

const LEASE_TTL = 2_000;
const now = machineNow;
/** Slack allowed between processes' readings of the machine's monotonic clock (none is expected). */
const SKEW_MS = 5;

/**
 * An instance whose subscriber connection Redis dropped, but which has not noticed (its event
 * loop is busy in a loop of L1 hits, so the socket close is not processed), is no longer counted
 * by PUBLISH. It is still registered in `{ns}:instances`: the writer waits for it (its ack never
 * comes, so until its lease must have lapsed), and it never serves the old row after the write.
 */
describe("a reader whose subscriber connection Redis dropped, busy on L1 hits", () => {
  it(
    "is waited for by the writer, and never returns the old row after the write resolved",
    async () => {
      const namespace = uniqueNamespace();
      const connectionName = `dropped-${namespace}`;
      const writer = createCachedClient({ namespace, models: { User: true }, lease: { ttl: LEASE_TTL } });
      const admin = createRedis();
      try {
        const user = await writer.base.user.create({ data: { email: `dropped-${Date.now()}-${Math.random()}@example.com`, name: "old name" } });
        const reader = startChild<LeaseReaderReport>(
          "lease-reader.ts",
          {
            DATABASE_URL: databaseUrl(),
            REDIS_URL: inject("redisUrl"),
            NAMESPACE: namespace,
            USER_ID: String(user.id),
            OLD_NAME: "old name",
            LEASE_TTL: String(LEASE_TTL),
            DURATION_MS: "6000",
            CONNECTION_NAME: connectionName,
          },
          45_000,
        );
        try {
          await reader.printed("ready");
          const subscriberId = await subscriberOf(admin, connectionName);
          await new Promise((resolve) => setTimeout(resolve, 200));
          // Redis drops the reader's subscription; the reader, busy on L1 hits, does not notice yet.
          expect(await admin.client("KILL", "ID", subscriberId)).toBe(1);
          await writer.prisma.user.update({ where: { id: user.id }, data: { name: "new name" } });
          const resolvedAt = now();
          const report = await reader.result;
          console.log(`dropped subscriber: ${JSON.stringify(report)}; ack timeouts ${writer.prisma.$cache.stats().invalidationAckTimeouts}`);
          expect(report.lastOldAt, "a read that started after the write resolved returned the old row").toBeLessThan(resolvedAt + SKEW_MS);
          expect(report.firstNewAt).toBeGreaterThan(0);
          expect(report.l1Hits).toBeGreaterThan(report.l2Hits);
        } finally {
          reader.kill();
          await reader.result.catch(() => {});
        }
      } finally {
        admin.disconnect();
        await writer.close();
      }
    },
    60_000,
  );
});

/** The id of the pub/sub connection named `name` (the reader's subscriber), from CLIENT LIST. */
async function subscriberOf(admin: ReturnType<typeof createRedis>, name: string): Promise<string> {
  const list = (await admin.client("LIST")) as string;
  for (const line of list.split("\n")) {
    const fields = Object.fromEntries(line.split(" ").map((field) => field.split("=", 2) as [string, string]));
    // The cache names it after the application's name for its connections.
    if (fields.name?.startsWith(`${name}/`) && Number(fields.sub ?? 0) > 0) return fields.id!;
  }
  throw new Error(`no subscriber connection named ${name} in CLIENT LIST`);
}
