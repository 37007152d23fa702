import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    // One file at a time (Vitest's default on a 2-core machine). Two at a time halve the run
    // (`npm test -- --maxWorkers=2`: each worker has databases of its own, test/global-setup.ts),
    // but on 2 cores the timing-sensitive tests then flaked: 2 of 6 full runs failed one or two.
    maxWorkers: 1,
    // Memory tests force collections to measure what is live, not garbage not yet collected.
    execArgv: ["--expose-gc"],
    reporters: ["default", "./test/summary-reporter.ts"],
    typecheck: { enabled: true, include: ["test/types/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
  },
});
