// The Accelerate mode's overhead on a cached read: an L1 hit through `cacheExtension` (baseline),
// the same hit through `accelerateCompat` (cacheStrategy translated by one more model layer), and
// with `.withAccelerateInfo()` (which also reports how the read was served).
//
//   npx tsx bench/accelerate.ts          (or: npm run bench:accelerate)
//
// Creates a scratch database and unique cache namespaces and removes both at the end.
import { PrismaPg } from "@prisma/adapter-pg";
import { accelerateCompat, cacheExtension } from "../src/index.ts";
import { consumeSink, measure, type Stats, scaled } from "./lib/measure.ts";
import { Cleanup, deleteNamespace, ensureGeneratedClient, openScratchResources, uniqueNamespace } from "./lib/setup.ts";
import { header, micros, renderTable, versus, type Row } from "./lib/table.ts";

const n = scaled;

async function main(): Promise<void> {
  const started = performance.now();
  ensureGeneratedClient();
  const { PrismaClient } = await import("../prisma/generated/client.ts");
  const cleanup = new Cleanup();
  try {
    const { db, redis } = await openScratchResources("pcs_bench_accelerate", cleanup);
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    cleanup.add("disconnect Prisma", () => base.$disconnect());
    const id = (await base.user.create({ data: { email: "ada@bench.example", name: "Ada" } })).id;

    const plainNamespace = uniqueNamespace("bench-acc-plain");
    const compatNamespace = uniqueNamespace("bench-acc-compat");
    const plain = base.$extends(cacheExtension({ redis, namespace: plainNamespace, ttl: 3600, jitter: 0, models: { User: true } }));
    const compat = base.$extends(accelerateCompat({ redis, namespace: compatNamespace }));
    cleanup.add("delete namespace keys", () => Promise.all([deleteNamespace(redis, plainNamespace), deleteNamespace(redis, compatNamespace)]));
    cleanup.add("close caches", () => Promise.all([plain.$cache.close(), compat.$cache.close()]));

    const strategy = { ttl: 3600 };
    await plain.user.findUnique({ where: { id } });
    await compat.user.findUnique({ where: { id }, cacheStrategy: strategy });
    const info = await compat.user.findUnique({ where: { id }, cacheStrategy: strategy }).withAccelerateInfo();
    if (info.info.tier !== "l1") throw new Error(`expected an L1 hit, got ${JSON.stringify(info.info)}`);
    const before = [plain.$cache.stats().dbLoads, compat.$cache.stats().dbLoads];

    // Interleaved rounds, so machine load drifts affect all three alike.
    const [baseline, translated, withInfo] = await measure(
      [
        { name: "L1 hit, cacheExtension (cache option)", kind: "async", fn: () => plain.user.findUnique({ where: { id } }), batch: 10, samples: n(3000) },
        { name: "L1 hit, accelerateCompat (cacheStrategy)", kind: "async", fn: () => compat.user.findUnique({ where: { id }, cacheStrategy: strategy }), batch: 10, samples: n(3000) },
        { name: "L1 hit + withAccelerateInfo()", kind: "async", fn: () => compat.user.findUnique({ where: { id }, cacheStrategy: strategy }).withAccelerateInfo(), batch: 10, samples: n(3000) },
      ],
      { rounds: 10 },
    );
    consumeSink();
    const after = [plain.$cache.stats().dbLoads, compat.$cache.stats().dbLoads];

    const cols = [{ header: "operation" }, { header: "median µs" }, { header: "p99 µs" }, { header: "median vs baseline" }, { header: "samples × batch" }];
    const line = (s: Stats, against?: Stats): string[] => [`  ${s.name}`, micros(s.median), micros(s.p99), against === undefined ? "baseline" : versus(s.median, against.median), `${s.samples.toLocaleString("en-US")} × ${s.batch}`];
    const rows: Row[] = [{ section: "findUnique by id, served from L1 — baseline: cacheExtension" }, line(baseline!), line(translated!, baseline), line(withInfo!, baseline)];
    console.log(
      [
        header("prisma-cache-shield — Accelerate mode", { postgres: "scratch database", redis: "namespaces " + plainNamespace + ", " + compatNamespace }),
        "",
        renderTable(cols, rows),
        "",
        `Times are per call (batches of 10 sequential awaits). DB loads during measurement: ${after[0]! - before[0]!} (cacheExtension), ${after[1]! - before[1]!} (accelerateCompat).`,
        `total run time ${((performance.now() - started) / 1000).toFixed(1)} s`,
      ].join("\n"),
    );
  } finally {
    await cleanup.run();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
