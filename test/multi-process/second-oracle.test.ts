import { inject, describe, expect, it } from "vitest";
import { runSecondOracle } from "./second-oracle/run.ts";

/**
 * The randomized oracle over the second schema (see second-oracle-worker.ts): processes race
 * random reads and writes through the cache, and at every quiescent checkpoint each compares a
 * sample of the reads the fleet cached (from L1 and from Redis) with plain Prisma. A longer run:
 * `npm run oracle:second -- --minutes 3`. SEED=<n> replays a run's random choices.
 */
describe("second schema: randomized oracle across processes", () => {
  it(
    "every cached read equals plain Prisma at every quiescent checkpoint",
    async () => {
      const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
      const summary = await runSecondOracle({ postgresUrl: inject("secondDatabaseUrl"), redisUrl: inject("redisUrl"), workers: 4, durationMs: 15_000, seed });
      const { samples, errorSamples, ...counts } = summary;
      console.log(`second-schema oracle: ${JSON.stringify(counts)}`);
      const context = `seed ${seed} (replay: SEED=${seed} npx vitest run test/multi-process/second-oracle.test.ts)`;
      expect(summary.readErrors, `${context}\n${errorSamples.join("\n")}`).toBe(0);
      expect(summary.ackTimeouts, context).toBe(0);
      expect(samples, context).toEqual([]);
      expect(summary.differences, context).toBe(0);
      // The run did something: bounds low enough for a loaded 2-core machine.
      expect(summary.rounds).toBeGreaterThanOrEqual(2);
      expect(summary.checks).toBeGreaterThan(100);
      expect(summary.writes).toBeGreaterThan(30);
      expect(summary.shapes).toBeGreaterThan(100);
      expect(summary.l1Hits + summary.l2Hits).toBeGreaterThan(0);
    },
    90_000,
  );
});
