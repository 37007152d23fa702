import { describe, expect, inject, it } from "vitest";
import { startChild } from "../helpers/child-process.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import type { LeaseReaderReport } from "./lease-reader.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { databaseUrl } from "../helpers/databases.ts";

const LEASE_TTL = 1_000;
const now = machineNow;
/** Slack allowed between processes' readings of the machine's monotonic clock (none is expected). */
const SKEW_MS = 5;

/**
 * L1 answers only under a lease renewed by heartbeats on the invalidation subscription: an
 * instance that cannot hear Redis in time (frozen, or busy in a loop of L1 hits that never
 * yields to I/O) stops answering from L1, and a write that it did not acknowledge resolves
 * only once its lease must have lapsed. After the write resolved, it never returns the old row.
 */
describe("L1 lease", () => {
  it(
    "a frozen reader (SIGSTOP): the write resolves after about one lease, and the reader never serves the old row after it",
    async () => {
      await withReader(async (writer, reader, user) => {
        const { resolvedAt, writeMs } = await writeWhileFrozen(writer, reader, user);
        const report = await reader.result;
        console.log(`frozen reader: write took ${Math.round(writeMs)} ms (lease ${LEASE_TTL} ms); ${JSON.stringify(report)}`);
        // The frozen reader acknowledged nothing: the writer waited for its lease to lapse.
        expect(writeMs).toBeGreaterThanOrEqual(LEASE_TTL * 0.9);
        expect(writer.prisma.$cache.stats().invalidationAckTimeouts).toBe(1);
        expect(report.lastOldAt, "a read that started after the write resolved returned the old row").toBeLessThan(resolvedAt + SKEW_MS);
        expect(report.firstNewAt).toBeGreaterThan(0);
      });
    },
    60_000,
  );

  it(
    "a busy reader (a loop of L1 hits that never yields) stops serving the old row once its lease lapses",
    async () => {
      await withReader(async (writer, reader, user) => {
        await sleep(300);
        const started = now();
        await writer.prisma.user.update({ where: { id: user.id }, data: { name: "new name" } });
        const resolvedAt = now();
        const report = await reader.result;
        console.log(`busy reader: write took ${Math.round(resolvedAt - started)} ms; ${JSON.stringify(report)}`);
        expect(report.lastOldAt, "a read that started after the write resolved returned the old row").toBeLessThan(resolvedAt + SKEW_MS);
        expect(report.firstNewAt).toBeGreaterThan(0);
        // The loop mostly ran on L1 hits (the scenario under test), renewing its lease in between.
        expect(report.l1Hits).toBeGreaterThan(report.l2Hits);
      });
    },
    60_000,
  );

  it(
    "a frozen reader with a longer lease than the writer's (instances configured differently): the write waits for the longest lease in the fleet",
    async () => {
      const readerLease = 3 * LEASE_TTL;
      await withReader(
        async (writer, reader, user) => {
          // The writer learns the fleet's longest lease from its next registration heartbeat (one a second).
          await sleep(1_500);
          const { resolvedAt, writeMs } = await writeWhileFrozen(writer, reader, user);
          const report = await reader.result;
          console.log(`frozen reader with lease ${readerLease} ms, writer's ${LEASE_TTL} ms: write took ${Math.round(writeMs)} ms; ${JSON.stringify(report)}`);
          expect(writeMs).toBeGreaterThanOrEqual(readerLease * 0.9);
          expect(report.lastOldAt, "a read that started after the write resolved returned the old row").toBeLessThan(resolvedAt + SKEW_MS);
          expect(report.firstNewAt).toBeGreaterThan(0);
        },
        readerLease,
        8_000,
      );
    },
    60_000,
  );
});

type Writer = ReturnType<typeof createCachedClient>;
type Reader = ReturnType<typeof startChild<LeaseReaderReport>>;

/** A writer in this process and a reader process on one namespace, reading a fresh user. */
async function withReader(run: (writer: Writer, reader: Reader, user: { id: number }) => Promise<void>, readerLeaseTtl = LEASE_TTL, durationMs = 4_000): Promise<void> {
  const namespace = uniqueNamespace();
  const writer = createCachedClient({ namespace, models: { User: true }, lease: { ttl: LEASE_TTL } });
  try {
    const user = await writer.base.user.create({ data: { email: `lease-${Date.now()}-${Math.random()}@example.com`, name: "old name" } });
    const reader = startChild<LeaseReaderReport>(
      "lease-reader.ts",
      { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, USER_ID: String(user.id), OLD_NAME: "old name", LEASE_TTL: String(readerLeaseTtl), DURATION_MS: String(durationMs) },
      45_000,
    );
    try {
      await reader.printed("ready");
      await run(writer, reader, user);
    } finally {
      reader.kill();
      await reader.result.catch(() => {});
    }
  } finally {
    await writer.close();
  }
}

/** Freezes the reader (SIGSTOP), renames the user through the writer, and thaws the reader 500 ms after the write resolved. */
async function writeWhileFrozen(writer: Writer, reader: Reader, user: { id: number }): Promise<{ resolvedAt: number; writeMs: number }> {
  process.kill(reader.pid, "SIGSTOP");
  try {
    await sleep(100);
    const started = now();
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "new name" } });
    const resolvedAt = now();
    await sleep(500);
    return { resolvedAt, writeMs: resolvedAt - started };
  } finally {
    process.kill(reader.pid, "SIGCONT");
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
