import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { createCachedClient } from "../helpers/client.ts";
import { startChild } from "../helpers/child-process.ts";
import { withProxiedWriter } from "../helpers/proxied-writer.ts";
import { holdUserRowLock } from "../helpers/row-lock.ts";

interface ReaderReport {
  samples: Array<[number, string | null]>;
  l1Hits: number;
  bypasses: Record<string, number>;
}
interface WriterReport {
  resolvedAt: number;
  invalidationsQueued: number;
  unannouncedWrites: number;
  closing: { code: string; models: string[] } | string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a writer cut off from Redis, then stopped, while other processes keep reading", () => {
  it("no process returns the old row after the write resolved; the stopped writer reports what it could not deliver", async () => {
    await withProxiedWriter(async ({ chaos, proxy, base, admin, user, namespace, common }) => {
      // Long enough to read after the write resolves: a writer cut off after its commit waits up to
      // redisDownWriteWait (5 s) for its confirmation, and its failed attempt waits out the lease (1 s).
      const readers = [0, 1].map(() => startChild<ReaderReport>("loop-reader.ts", { ...common, REDIS_URL: chaos.url, DURATION_MS: "13000" }));
      await sleep(2_500);
      // The row lock keeps the update waiting in the database once it is announced.
      const rowLock = await holdUserRowLock(base, user.id);
      const writer = startChild<WriterReport>("cut-off-writer.ts", { ...common, REDIS_URL: proxy.url, NAME: "written by a stopped writer" });
      const deadline = Date.now() + 20_000;
      while ((await admin.exists(`d{${namespace}}:v:t:User:id=["${user.id}"]`)) === 0) {
        if (Date.now() > deadline) throw new Error("the write was never announced");
        await sleep(10);
      }
      proxy.cut();
      // Readers load the (still old) row while the update waits: the marks keep them from caching it.
      await sleep(600);
      await rowLock.release();
      const written = await writer.result;
      const reports = await Promise.all(readers.map((reader) => reader.result));

      // (The announcement is in Redis — the test waited for its mark — even if, on a loaded machine,
      // its reply came after redisTimeout and the writer counted it as unannounced.)
      expect(written.invalidationsQueued).toBe(1);
      expect(written.closing).toMatchObject({ code: "E_UNDELIVERED_INVALIDATIONS", models: ["User"] });
      for (const report of reports) {
        expect(report.l1Hits, "the readers served from L1 before the write").toBeGreaterThan(0);
        const after = report.samples.filter(([started]) => started > written.resolvedAt);
        expect(after.length, "reads after the write resolved").toBeGreaterThan(10);
        expect(after.filter(([, name]) => name !== "written by a stopped writer")).toEqual([]);
      }
      // A newcomer, after the writer has gone.
      const newcomer = createCachedClient({ namespace, redis: new Redis(chaos.url), models: { User: true } });
      try {
        expect((await newcomer.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("written by a stopped writer");
      } finally {
        await newcomer.close();
        newcomer.redis?.disconnect();
      }
    });
  }, 90_000);
});
