import { describe, expect, inject, it } from "vitest";
import { runSecondOracle } from "./second-oracle/run.ts";
import { secondDatabaseUrl } from "../helpers/databases.ts";

/**
 * The randomized oracle over the second schema (see second-oracle-worker.ts): processes race
 * random reads and writes through the cache, and at every quiescent checkpoint each compares a
 * sample of the reads the fleet cached (from L1 and from Redis) with plain Prisma. A longer run:
 * `npm run oracle:second -- --minutes 3`. SEED=<n> replays a run's random choices (the
 * interleaving of the processes is not replayed).
 */
describe("second schema: randomized oracle across processes", () => {
  const oracle = (durationMs: number, env: Record<string, string> = {}) => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
    return runSecondOracle({ postgresUrl: secondDatabaseUrl(), redisUrl: inject("redisUrl"), workers: 4, durationMs, seed, env });
  };

  it(
    "every cached read equals plain Prisma at every quiescent checkpoint",
    async () => {
      const summary = await oracle(15_000);
      const { samples, errorSamples, ...counts } = summary;
      console.log(`second-schema oracle: ${JSON.stringify(counts)}`);
      const context = `seed ${summary.seed} (replay: SEED=${summary.seed} npx vitest run test/multi-process/second-oracle.test.ts)`;
      expect(summary.readErrors, `${context}\n${errorSamples.join("\n")}`).toBe(0);
      expect(summary.ackTimeouts, `${context}: a write resolved before every instance acknowledged it`).toBe(0);
      expect(samples, context).toEqual([]);
      expect(summary.differences, context).toBe(0);
      // The run did something (bounds low enough for a loaded 2-core machine).
      expect(summary.checks).toBeGreaterThanOrEqual(300);
      expect(summary.writes).toBeGreaterThan(20);
      expect(summary.shapes).toBeGreaterThan(100);
      expect(summary.l1Hits).toBeGreaterThan(0);
      expect(summary.l2Hits).toBeGreaterThan(0);
    },
    120_000,
  );

  it(
    "negative control: the same checkpoints find differences when writes bypass the extension",
    async () => {
      const summary = await oracle(1_000, { WRITE_THROUGH: "base", CHECKS: "20", SINGLE_WRITES: "1", FOCUSED: "8" });
      expect(summary.readErrors, summary.errorSamples.join("\n")).toBe(0);
      expect(summary.differences).toBeGreaterThan(0);
    },
    90_000,
  );
});
