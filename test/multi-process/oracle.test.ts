import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { createBaseClient, uniqueNamespace } from "../helpers/client.ts";
import { runChild } from "../helpers/child-process.ts";
import type { SeededUser, WorkerReport } from "./mixed-worker.ts";

const WORKERS = 4;
const DURATION_MS = 8_000;

/**
 * The rule, checked under a random concurrent load: after a write through any extended client
 * resolves, no extended client sharing the Redis returns data older than that write. Four
 * processes (each its own PrismaClient, pool, L1 and subscription) read and write the same rows;
 * every resolved write records the version it committed in an oracle (a plain Redis connection),
 * and every read checks that what it got is at least what the oracle knew when it started.
 * See mixed-worker.ts for the operations and the checks.
 */
describe("several processes reading and writing at once", () => {
  it(
    "no read returns data older than a write that resolved before it started",
    async () => {
      const namespace = uniqueNamespace();
      const oraclePrefix = `oracle-${namespace}`;
      const { base } = createBaseClient();
      const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1 });
      try {
        const users: SeededUser[] = [];
        for (let i = 0; i < 10; i++) {
          const tag = randomUUID().slice(0, 8);
          const user = await base.user.create({
            data: { email: `oracle-${tag}@example.com`, name: `Oracle ${i}`, posts: { create: [0, 1, 2].map((j) => ({ slug: `seed-${tag}-${j}`, title: `Seed ${j}` })) } },
            include: { posts: { select: { id: true }, orderBy: { id: "asc" } } },
          });
          users.push({ id: user.id, email: user.email, posts: user.posts.map((post) => post.id) });
          // The post-count history starts at the seed: version 0, three posts.
          await redis.hset(`${oraclePrefix}:hist:${user.id}`, "0", "3");
        }

        const env = {
          DATABASE_URL: inject("databaseUrl"),
          REDIS_URL: inject("redisUrl"),
          NAMESPACE: namespace,
          ORACLE: oraclePrefix,
          USERS: JSON.stringify(users),
          WORKERS: String(WORKERS),
          DURATION_MS: String(DURATION_MS),
          LOOPS: "2",
          SEED: String(Date.now() % 100_000),
        };
        const reports = await Promise.all(
          Array.from({ length: WORKERS }, (_, worker) => runChild<WorkerReport>("mixed-worker.ts", { ...env, WORKER: String(worker) }, 45_000)),
        );

        const total = (pick: (report: WorkerReport) => number) => reports.reduce((sum, report) => sum + pick(report), 0);
        const summary = {
          seed: env.SEED,
          reads: total((r) => r.reads),
          writes: total((r) => r.writes),
          countChecks: total((r) => r.countChecks),
          staleReads: total((r) => r.staleReads),
          l1Hits: total((r) => r.stats.l1Hits),
          l2Hits: total((r) => r.stats.l2Hits),
          misses: total((r) => r.stats.misses),
          fencedStores: total((r) => r.stats.fencedStores),
          ackTimeouts: total((r) => r.stats.invalidationAckTimeouts),
          readErrors: total((r) => r.readErrors),
          writeErrors: reports.map((r) => r.writeErrors),
          stale: reports.flatMap((r) => r.stale),
          errorSamples: reports.flatMap((r) => r.errorSamples),
        };
        // One line a reader of the test output can use to see what was exercised.
        console.log(`oracle test: ${JSON.stringify(summary)}\nper worker: ${JSON.stringify(reports.map(({ stale, errorSamples, ...rest }) => rest))}`);

        expect(summary.stale, "stale reads (first ones of each worker)").toEqual([]);
        expect(summary.staleReads).toBe(0);
        expect(summary.readErrors, summary.errorSamples.join("\n")).toBe(0);
        // The run did something: plenty of reads and writes, and the cache really served reads.
        expect(summary.reads).toBeGreaterThan(400);
        expect(summary.writes).toBeGreaterThan(100);
        expect(summary.countChecks).toBeGreaterThan(20);
        expect(summary.l1Hits + summary.l2Hits).toBeGreaterThan(summary.reads / 20);
        expect(summary.l1Hits).toBeGreaterThan(0);
        expect(summary.l2Hits).toBeGreaterThan(0);
      } finally {
        await base.$disconnect();
        for (const pattern of [`${oraclePrefix}:*`, `{${namespace}}:*`, `${namespace}:*`]) {
          const keys: string[] = [];
          let cursor = "0";
          do {
            const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
            keys.push(...batch);
            cursor = next;
          } while (cursor !== "0");
          for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
        }
        redis.disconnect();
      }
    },
    60_000,
  );
});
