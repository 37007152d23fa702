import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two files at a time (Vitest's default is one on a 2-core machine): most tests wait on
    // timers, Redis and other processes, not the CPU. Each worker has databases of its own
    // (test/global-setup.ts); Redis keys are per test namespace, faults on private servers.
    maxWorkers: 2,
    // Memory tests force collections to measure what is live, not garbage not yet collected.
    execArgv: ["--expose-gc"],
    reporters: ["default", "./test/summary-reporter.ts"],
    typecheck: { enabled: true, include: ["test/types/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
  },
});
