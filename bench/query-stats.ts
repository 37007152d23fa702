// What query statistics cost the hot path: the same L1 hit (findUnique served from process memory)
// through clients that differ only in `queryStats` — off, or on (the default: every read counted) —
// measured side by side in interleaved rounds, plus the counting structure (HeavyHitters.add) and
// a flush on their own.
//
//   npx tsx bench/query-stats.ts          (or: npm run bench:query-stats)
//
// Creates a scratch database and a unique cache namespace and removes both at the end.
// DATABASE_URL (admin connection) and REDIS_URL override the local defaults. The target
// (at most 100 ns more per L1 hit than with statistics off) is reported, not asserted.
import { PrismaPg } from "@prisma/adapter-pg";
import { Codec } from "../src/codec/codec.ts";
import { cacheExtension } from "../src/index.ts";
import { prismaDecimal } from "../src/prisma/prisma-values.ts";
import { HeavyHitters } from "../src/stats/heavy-hitters.ts";
import { QueryStats, type QuerySample } from "../src/stats/query-stats.ts";
import { RedisStore } from "../src/stores/redis-store.ts";
import { consumeSink, measure, summarize, timerOverhead, type Stats, scaled } from "./lib/measure.ts";
import { Cleanup, deleteNamespace, ensureGeneratedClient, openScratchResources, redisUrl, safeHost, uniqueNamespace } from "./lib/setup.ts";
import { header, micros, renderTable, type Row } from "./lib/table.ts";

const n = scaled;
const TARGET_OVERHEAD_US = 0.1;

async function main(): Promise<void> {
  const started = performance.now();
  ensureGeneratedClient();
  const { PrismaClient } = await import("../prisma/generated/client.ts");
  const cleanup = new Cleanup();
  try {
    const { db, redis } = await openScratchResources("pcs_bench_query_stats", cleanup);
    const namespace = uniqueNamespace("bench-query-stats");
    cleanup.add("delete namespace keys", () => deleteNamespace(redis, namespace));
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    cleanup.add("disconnect Prisma", () => base.$disconnect());
    const { id } = await base.user.create({ data: { email: "bench@example.test", name: "Bench", balance: "12.5", visits: 1n, score: 1, profile: { a: [1, 2, 3] } } });

    // Long TTLs and no early refresh: every measured read is a plain L1 hit.
    const common = { redis, namespace, ttl: 3600, earlyRefreshBeta: 0, models: { User: true } } as const;
    const clients = {
      off: base.$extends(cacheExtension({ ...common, queryStats: false })),
      // The same configuration again: its difference from `off` is the noise floor of the comparison.
      offAgain: base.$extends(cacheExtension({ ...common, queryStats: false })),
      byDefault: base.$extends(cacheExtension({ ...common })),
    };
    for (const client of Object.values(clients)) {
      cleanup.add("close a client", () => client.$cache.close());
      await client.user.findUnique({ where: { id } });
      await client.user.findUnique({ where: { id } });
    }
    const before = Object.fromEntries(Object.entries(clients).map(([name, client]) => [name, client.$cache.stats()]));

    // ── measurements ─────────────────────────────────────────────────────────────────────────
    const timer = timerOverhead();
    const read = (client: (typeof clients)["off"]) => () => client.user.findUnique({ where: { id } });
    const [off, offAgain, byDefault] = await measure(
      [
        { name: "L1 hit, queryStats: false", kind: "async", fn: read(clients.off), batch: 20, samples: n(6000) },
        { name: "L1 hit, queryStats: false, 2nd client (noise floor)", kind: "async", fn: read(clients.offAgain), batch: 20, samples: n(6000) },
        { name: "L1 hit, default (every read counted)", kind: "async", fn: read(clients.byDefault), batch: 20, samples: n(6000) },
      ],
      { rounds: 30 },
    );
    // The counting structure on its own: a tracked query, and one-off queries that force sweeps.
    const sample: QuerySample = { $model: "User", $operation: "findUnique", $args: { where: { id } }, $cacheOption: undefined };
    const tracked = new HeavyHitters<QuerySample>(2_000);
    const trackedKey = `${namespace}:bench:User:findUnique:{"where":{"id":n${id}}}`;
    const oneOff = new HeavyHitters<QuerySample>(2_000);
    const oneOffKeys = Array.from({ length: 100_000 }, (_, i) => `${namespace}:bench:User:findUnique:{"where":{"id":n${i}}}`);
    let nextKey = 0;
    const [addTracked, addOneOff] = await measure(
      [
        { name: "HeavyHitters.add(), query tracked", kind: "sync", fn: () => tracked.add(trackedKey, sample), batch: 100, samples: n(2000) },
        { name: "HeavyHitters.add(), a new query every read (sweeps included)", kind: "sync", fn: () => oneOff.add(oneOffKeys[nextKey++ % oneOffKeys.length]!, sample), batch: 100, samples: n(2000) },
      ],
      { rounds: 10 },
    );
    const flushFull = await flushes(redis, namespace, n(50));
    consumeSink();

    const after = Object.fromEntries(Object.entries(clients).map(([name, client]) => [name, client.$cache.stats()]));
    const sanity = Object.keys(clients).map((name) => {
      const b = before[name]!;
      const a = after[name]!;
      return `${name}: +${a.l1Hits - b.l1Hits} L1 hits, +${a.dbLoads - b.dbLoads} DB loads, +${a.l2Hits - b.l2Hits} L2 hits, ${a.queryStats.counted} reads counted`;
    });

    // ── report ───────────────────────────────────────────────────────────────────────────────
    const delta = (s: Stats) => s.median - off!.median;
    const line = (s: Stats, withDelta = true): string[] => [`  ${s.name}`, micros(s.median), micros(s.p99), withDelta ? signedNs(delta(s)) : "baseline", `${s.samples.toLocaleString("en-US")} × ${s.batch}`];
    const rows: Row[] = [
      { section: "L1 hit of user.findUnique — baseline: statistics off" },
      line(off!, false),
      line(offAgain!),
      line(byDefault!),
      { rule: true },
      { section: "The counting alone" },
      ...[addTracked!, addOneOff!, flushFull].map((st): string[] => [`  ${st.name}`, micros(st.median), micros(st.p99), "", `${st.samples.toLocaleString("en-US")} × ${st.batch}`]),
    ];
    const measured = delta(byDefault!);
    const verdict = measured < TARGET_OVERHEAD_US ? "MET    " : "NOT MET";
    console.log(
      [
        header("prisma-cache-shield — query statistics on the hot path", {
          postgres: `${new URL(db.url).host} (scratch database ${db.name})`,
          redis: `${safeHost(redisUrl())}, namespace ${namespace}`,
          timer: `hrtime.bigint pair ≈ ${micros(timer)} µs (samples of 20 sequential awaits divide it by 20)`,
        }),
        "",
        renderTable([{ header: "operation" }, { header: "median µs" }, { header: "p99 µs" }, { header: "median vs off" }, { header: "samples × batch" }], rows),
        "",
        "Times are per call; the clients are measured in 30 interleaved rounds so machine drift spreads over all of them.",
        "Statistics off is what an L1 hit cost before every read was counted (it then counted down to a 1 % sample: one decrement); the second `off` client shows how far two identical clients differ.",
        ...sanity,
        "",
        "Target (reported, not asserted)",
        `  ${verdict}  counting every read costs < ${signedNs(TARGET_OVERHEAD_US)} per L1 hit: measured ${signedNs(measured)} (median difference; noise floor ${signedNs(delta(offAgain!))}); ` +
          `add() alone ${signedNs(addTracked!.median)} for a tracked query, ${signedNs(addOneOff!.median)} for a new one`,
        "",
        `total run time ${((performance.now() - started) / 1000).toFixed(1)} s`,
      ].join("\n"),
    );
  } finally {
    await cleanup.run();
  }
}

/**
 * A flush of a full interval: 2 000 distinct queries counted, the top 1 000 encoded (the first
 * time each is flushed) and sent to Redis in one script call.
 */
async function flushes(redis: import("ioredis").Redis, namespace: string, samples: number): Promise<Stats> {
  const codec = new Codec(prismaDecimal, { exact: false });
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const recorder = new QueryStats({
      store: new RedisStore(redis, 5_000),
      prefix: `{${namespace}}`,
      fingerprint: "bench",
      settings: { counting: true, maxQueries: 1_000, halfLifeMs: 3_600_000, flushIntervalMs: 5_000 },
      encodeArgs: (args) => codec.encode(args),
      decodeArgs: (text) => codec.decode(text),
      report: () => {},
    });
    for (let id = 0; id < 2_000; id++) recorder.popularity!.add(`${namespace}:bench:User:findUnique:{"where":{"id":n${id}}}`, { $model: "User", $operation: "findUnique", $args: { where: { id } }, $cacheOption: undefined });
    const t0 = process.hrtime.bigint();
    await recorder.flush();
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return summarize("flush(): top 1 000 of 2 000 queries, first time (arguments encoded)", times, 1);
}

/** A difference in microseconds shown in nanoseconds with its sign: +12 ns, −3 ns. */
function signedNs(us: number): string {
  const ns = Math.round(us * 1000);
  return `${ns >= 0 ? "+" : "−"}${Math.abs(ns).toLocaleString("en-US")} ns`;
}


main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
