// A long run of the second-schema randomized oracle (test/multi-process/second-oracle-worker.ts):
//   npm run oracle:second -- --minutes 3 [--workers 4] [--seed 42]
// Uses DATABASE_URL / REDIS_URL (or the local servers), creates and drops its own database,
// prints what was covered and every difference found; exits 1 on any difference or read error.
import { parseArgs } from "node:util";
import { resolveServices } from "../test/helpers/services.ts";
import { runSecondOracle } from "../test/multi-process/second-oracle/run.ts";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "3" }, workers: { type: "string", default: "4" }, seed: { type: "string" } } });
const minutes = Number(values.minutes);
const workers = Number(values.workers);
if (!(minutes > 0) || !Number.isInteger(workers) || workers < 2) throw new Error("--minutes must be positive and --workers an integer ≥ 2");
const seed = Number(values.seed ?? Date.now() % 1_000_000);

const services = await resolveServices();
try {
  console.log(`second-schema oracle: ${workers} workers, ${minutes} min, seed ${seed}`);
  const started = Date.now();
  const summary = await runSecondOracle({ postgresUrl: services.postgresAdminUrl, redisUrl: services.redisUrl, workers, durationMs: minutes * 60_000, seed });
  const { samples, errorSamples, writesByOp, writeErrors, ...counts } = summary;
  console.log(JSON.stringify({ ...counts, seconds: Math.round((Date.now() - started) / 1000) }, null, 2));
  console.log("writes by operation:", JSON.stringify(writesByOp));
  console.log("rejected writes (rolled back):", JSON.stringify(writeErrors));
  for (const sample of samples) console.log(`DIFFERENCE ${JSON.stringify(sample, null, 1)}`);
  for (const error of errorSamples) console.log(`READ ERROR ${error}`);
  if (summary.differences > 0 || summary.readErrors > 0) {
    console.log(`FAILED: ${summary.differences} differences, ${summary.readErrors} read errors (replay with --seed ${seed})`);
    process.exitCode = 1;
  }
} finally {
  await services.stop();
}
