import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * The files that run a second time on ioredis 6 (`npm install ioredis` installs it; the rest of the
 * suite runs on 5): the read and write paths, the client's settings, faults, a Cluster and the
 * multi-process oracle. ioredis 6 speaks RESP3 by default, which changes how pub/sub and replies travel.
 */
const onIoredis6 = [
  "test/integration/behaviour.test.ts",
  "test/integration/invalidation.test.ts",
  "test/integration/read-round-trips.test.ts",
  "test/integration/redis-client-settings.test.ts",
  "test/integration/write-commands.test.ts",
  "test/integration/redis-failures.test.ts",
  "test/integration/lease-redis-paused.test.ts",
  "test/integration/cluster.test.ts",
  "test/multi-process/oracle.test.ts",
  "test/multi-process/instances.test.ts",
  "test/multi-process/dropped-subscriber.test.ts",
  "test/integration/ioredis-major.test.ts",
];
/** Loads ioredis 6 wherever "ioredis" is imported: in the test workers and, through NODE_OPTIONS, the children they start. */
const ioredis6 = fileURLToPath(new URL("./test/helpers/ioredis6-register.mjs", import.meta.url));

/** How many test files run at once: `TEST_WORKERS`, 2 by default. */
function testWorkers(): number {
  const value = process.env.TEST_WORKERS ?? "2";
  if (!/^[1-9]\d*$/.test(value)) throw new Error(`TEST_WORKERS must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two files at a time, each worker with databases of its own (test/global-setup.ts): 552 s for the
    // suite on a quiet 2-core machine, against 923 s one at a time. The tests that failed under that
    // load (a 250 ms redisTimeout left no margin for a child starting beside another file, or for a
    // slow link's chain of replies) give Redis a timeout with room to spare where the timeout is not
    // what they check. `TEST_WORKERS=1 npm test` runs one file at a time (Vitest 4 ignores a
    // `--maxWorkers` given on the command line to a run of projects).
    maxWorkers: testWorkers(),
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "ioredis5",
          include: ["test/**/*.test.ts"],
          // Memory tests force collections to measure what is live, not garbage not yet collected.
          execArgv: ["--expose-gc"],
          env: { PCS_TEST_IOREDIS: "5" },
          typecheck: { enabled: true, include: ["test/types/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
        },
      },
      {
        extends: true,
        test: {
          name: "ioredis6",
          include: onIoredis6,
          execArgv: ["--expose-gc", "--import", ioredis6],
          env: { PCS_TEST_IOREDIS: "6", NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${JSON.stringify(ioredis6)}`.trim() },
        },
      },
    ],
  },
});
