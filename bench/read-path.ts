// The read path, measured: a plain Prisma findUnique against local PostgreSQL, the same call
// served from L1 (in process) and from L2 (Redis), a raw Redis GET of the same bytes with and
// without decoding, and the codec against superjson.
//
//   npx tsx bench/read-path.ts          (or: npm run bench:read-path)
//
// Creates a scratch database and a unique cache namespace and removes both at the end.
// DATABASE_URL (admin connection) and REDIS_URL override the local defaults. Targets are
// reported, not asserted: the exit code is 0 unless the benchmark itself fails.
import { PrismaPg } from "@prisma/adapter-pg";
import superjson from "superjson";
import type { Redis } from "ioredis";
import { Codec } from "../src/codec/codec.ts";
import { cacheExtension } from "../src/index.ts";
import { prismaDecimal } from "../src/prisma/prisma-values.ts";
import { CorruptEntry, parseEntry, type CacheEntry } from "../src/stores/entry.ts";
import { consumeSink, measure, measureOne, timerOverhead, type Stats, scaled } from "./lib/measure.ts";
import { Cleanup, deleteNamespace, ensureGeneratedClient, openScratchResources, redisUrl, safeHost, uniqueNamespace } from "./lib/setup.ts";
import { header, micros, renderTable, times, versus, type Row } from "./lib/table.ts";

const n = scaled;

// The performance targets (issue 13): reported against, not asserted.
const TARGET_L1_SPEEDUP = 150;
const TARGET_L1_MAX_US = 2.5;
const TARGET_L2_MAX_RATIO = 1.3;
const TARGET_COUNTING_MAX_NS = 100;

async function main(): Promise<void> {
  const started = performance.now();
  ensureGeneratedClient();
  const { PrismaClient, Prisma } = await import("../prisma/generated/client.ts");

  const cleanup = new Cleanup();
  try {
    // ── setup ────────────────────────────────────────────────────────────────────────────────
    const { db, redis } = await openScratchResources("pcs_bench_read_path", cleanup);
    const namespace = uniqueNamespace("bench-read-path");
    cleanup.add("delete namespace keys", () => deleteNamespace(redis, namespace));
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    cleanup.add("disconnect Prisma", () => base.$disconnect());

    const avatar = new Uint8Array(64).map((_, i) => (i * 37) & 0xff);
    for (let i = 1; i <= 10; i++) {
      await base.user.create({
        data: {
          email: `user${i}@bench.example`,
          name: `Bench User ${i}`,
          role: i % 3 === 0 ? "ADMIN" : "USER",
          balance: new Prisma.Decimal(`${1000 * i}.123456`),
          visits: 9_007_199_254_740_993n + BigInt(i),
          score: i + 0.25,
          avatar,
          profile: { theme: "dark", locale: "en-GB", tags: ["alpha", "beta", "gamma"], notifications: { email: true, sms: false }, logins: [1, 2, 3] },
        },
      });
    }
    const id = (await base.user.findUniqueOrThrow({ where: { email: "user5@bench.example" } })).id;
    const row = await base.user.findUniqueOrThrow({ where: { id } });

    // Long TTLs so nothing expires mid-run; everything else is the default configuration.
    const l1Client = base.$extends(cacheExtension({ redis, namespace, ttl: 3600, models: { User: true } }));
    const l2Client = base.$extends(cacheExtension({ redis, namespace, ttl: 3600, l1: false, models: { User: true } }));
    // The same L1 client without query statistics: an L1 hit as it cost before every read was
    // counted (then a 1 % sample: one decrement per read), measured alongside, in the same run.
    const uncountedClient = base.$extends(cacheExtension({ redis, namespace, ttl: 3600, models: { User: true }, queryStats: false }));
    cleanup.add("close clients", async () => {
      await Promise.all([l1Client, l2Client, uncountedClient].map((client) => client.$cache.close()));
    });
    const codec = new Codec(prismaDecimal);

    // Warm: the first read loads from the database and fills L1 and (asynchronously) Redis.
    await l1Client.user.findUnique({ where: { id } });
    const key = await waitForSingleKey(redis, namespace);
    const stored = await redis.get(key);
    const entry = stored === null ? undefined : parseEntry(stored);
    if (entry === undefined || entry instanceof CorruptEntry) throw new Error(`unexpected Redis value under ${key}: ${String(stored).slice(0, 80)}`);

    // Every path must return the same row, or the comparison is meaningless.
    const expected = codec.encode(row);
    const check = (label: string, value: unknown) => {
      if (codec.encode(value) !== expected) throw new Error(`${label} returned a different row:\n${codec.encode(value)}\nvs\n${expected}`);
    };
    check("L1 hit", await l1Client.user.findUnique({ where: { id } }));
    check("L1 hit, uncounted", await uncountedClient.user.findUnique({ where: { id } }));
    check("L1 hit, uncounted", await uncountedClient.user.findUnique({ where: { id } }));
    check("L2 hit", await l2Client.user.findUnique({ where: { id } }));
    check("Redis GET + decode", codec.decode(entry.payload));
    check("codec round trip", codec.decode(codec.encode(row)));
    check("Codec.clone", codec.clone(row));
    superjson.registerCustom<InstanceType<typeof Prisma.Decimal>, string>(
      { isApplicable: (v): v is InstanceType<typeof Prisma.Decimal> => Prisma.Decimal.isDecimal(v), serialize: (v) => v.toJSON(), deserialize: (v) => new Prisma.Decimal(v) },
      "decimal.js",
    );
    check("superjson round trip", superjson.parse(superjson.stringify(row)));

    const l1Before = l1Client.$cache.stats();
    const l2Before = l2Client.$cache.stats();

    // ── measurements ─────────────────────────────────────────────────────────────────────────
    const timer = timerOverhead();
    const [raw] = await measure([{ name: "raw Prisma findUnique", kind: "async", fn: () => base.user.findUnique({ where: { id } }), samples: n(2000), warmup: n(300) }]);
    // Interleaved, so machine drift affects both alike: their difference is what counting every read costs.
    const [l1, l1Uncounted] = await measure(
      [
        { name: "L1 hit (findUnique via extension; every read counted)", kind: "async", fn: () => l1Client.user.findUnique({ where: { id } }), batch: 10, samples: n(10_000) },
        { name: "L1 hit, queryStats: false (nothing counted)", kind: "async", fn: () => uncountedClient.user.findUnique({ where: { id } }), batch: 10, samples: n(10_000) },
      ],
      { rounds: 20 },
    );
    // Interleaved, so Redis latency drift affects all three alike.
    const [get, getDecode, l2] = await measure(
      [
        { name: "raw ioredis GET", kind: "async", fn: () => redis.get(key), samples: n(3000), warmup: n(300) },
        { name: "raw GET + parseEntry + Codec.decode", kind: "async", fn: async () => codec.decode((parseEntry((await redis.get(key))!) as CacheEntry).payload), samples: n(3000), warmup: n(300) },
        { name: "L2 hit (findUnique, l1: false)", kind: "async", fn: () => l2Client.user.findUnique({ where: { id } }), samples: n(3000), warmup: n(300) },
      ],
      { rounds: 20 },
    );
    const payload = codec.encode(row);
    const sjText = superjson.stringify(row);
    const [encode, decode, roundTrip, sjRoundTrip, sjStringify, sjParse, clone] = await measure(
      [
        { name: "Codec.encode", kind: "sync", fn: () => codec.encode(row), batch: 100, samples: n(1000) },
        { name: "Codec.decode", kind: "sync", fn: () => codec.decode(payload), batch: 100, samples: n(1000) },
        { name: "Codec encode + decode", kind: "sync", fn: () => codec.decode(codec.encode(row)), batch: 100, samples: n(1000) },
        { name: "superjson stringify + parse", kind: "sync", fn: () => superjson.parse(superjson.stringify(row)), batch: 20, samples: n(1000) },
        { name: "superjson stringify", kind: "sync", fn: () => superjson.stringify(row), batch: 20, samples: n(1000) },
        { name: "superjson parse", kind: "sync", fn: () => superjson.parse(sjText), batch: 20, samples: n(1000) },
        { name: "Codec.clone", kind: "sync", fn: () => codec.clone(row), batch: 100, samples: n(1000) },
      ],
      { rounds: 10 },
    );
    consumeSink();

    // Hits really were hits: no database load and no Redis error during the measurements.
    const l1After = l1Client.$cache.stats();
    const l2After = l2Client.$cache.stats();
    const sanity = [
      `L1 client: +${l1After.l1Hits - l1Before.l1Hits} L1 hits, +${l1After.l2Hits - l1Before.l2Hits} L2 hits, +${l1After.dbLoads - l1Before.dbLoads} DB loads`,
      `L2 client: +${l2After.l2Hits - l2Before.l2Hits} L2 hits, +${l2After.dbLoads - l2Before.dbLoads} DB loads, ${l2After.redisErrors} Redis errors, ${l2After.redisTimeouts} timeouts`,
    ];
    if (l1After.dbLoads !== l1Before.dbLoads || l2After.dbLoads !== l2Before.dbLoads || l1After.l2Hits !== l1Before.l2Hits) {
      sanity.push("WARNING: some measured reads were not cache hits; the numbers above are not clean");
    }

    // ── report ───────────────────────────────────────────────────────────────────────────────
    const cols = [{ header: "operation" }, { header: "median µs" }, { header: "p99 µs" }, { header: "median vs baseline" }, { header: "p99 vs baseline" }, { header: "samples × batch" }];
    const line = (s: Stats, baseline?: Stats): string[] => [
      `  ${s.name}`,
      micros(s.median),
      micros(s.p99),
      baseline === undefined ? "baseline" : versus(s.median, baseline.median),
      baseline === undefined ? "baseline" : versus(s.p99, baseline.p99),
      `${s.samples.toLocaleString("en-US")} × ${s.batch}`,
    ];
    const rows: Row[] = [
      { section: "Database path — baseline: raw Prisma findUnique (PrismaPg, local PostgreSQL)" },
      line(raw!),
      line(l1!, raw),
      line(l2!, raw),
      { rule: true },
      { section: "Cost of counting every read for warm() — baseline: L1 hit with queryStats: false" },
      line(l1Uncounted!),
      [...line(l1!, l1Uncounted).slice(0, 3), `${signedNs(l1!.median - l1Uncounted!.median)}`, `${signedNs(l1!.p99 - l1Uncounted!.p99)}`, line(l1!)[5]!],
      { rule: true },
      { section: "Redis path — baseline: raw GET + decode" },
      line(get!, getDecode),
      line(getDecode!),
      line(l2!, getDecode),
      { rule: true },
      { section: "Codec (one User row: Decimal, BigInt, Date, Bytes, Json) — baseline: superjson stringify + parse" },
      line(encode!, sjRoundTrip),
      line(decode!, sjRoundTrip),
      line(roundTrip!, sjRoundTrip),
      line(sjRoundTrip!),
      line(sjStringify!, sjRoundTrip),
      line(sjParse!, sjRoundTrip),
      line(clone!, sjRoundTrip),
    ];

    const l1Speedup = raw!.median / l1!.median;
    const countingNs = (l1!.median - l1Uncounted!.median) * 1000;
    const l2Ratio = l2!.median / getDecode!.median;
    const verdict = (met: boolean) => (met ? "MET    " : "NOT MET");
    const targets = [
      `${verdict(l1Speedup >= TARGET_L1_SPEEDUP)}  L1 hit ≥ ${TARGET_L1_SPEEDUP}× faster than raw Prisma findUnique: ${times(l1Speedup)} (median ${micros(l1!.median)} µs vs ${micros(raw!.median)} µs; p99 ${times(raw!.p99 / l1!.p99)})`,
      `${verdict(l1!.median <= TARGET_L1_MAX_US)}  L1 hit ≤ ${TARGET_L1_MAX_US} µs: median ${micros(l1!.median)} µs, p99 ${micros(l1!.p99)} µs`,
      `${verdict(countingNs <= TARGET_COUNTING_MAX_NS)}  counting every read adds ≤ ${TARGET_COUNTING_MAX_NS} ns to an L1 hit: ${signedNs((l1!.median - l1Uncounted!.median))} (median difference)`,
      `${verdict(l2Ratio <= TARGET_L2_MAX_RATIO)}  L2 hit within ${TARGET_L2_MAX_RATIO}× of raw GET + decode: ${times(l2Ratio)} (median ${micros(l2!.median)} µs vs ${micros(getDecode!.median)} µs; p99 ${times(l2!.p99 / getDecode!.p99)})`,
    ];

    const out = [
      header("prisma-cache-shield — read path", {
        postgres: `${new URL(db.url).host} (scratch database ${db.name})`,
        redis: `${safeHost(redisUrl())}, namespace ${namespace}`,
        "payload": `${entry.payload.length} chars encoded, ${stored!.length} chars stored in Redis`,
        timer: `hrtime.bigint pair ≈ ${micros(timer)} µs (batched samples divide it by the batch size)`,
      }),
      "",
      renderTable(cols, rows),
      "",
      "Times are per call. Async rows await each call; L1 rows time batches of 10 sequential awaits.",
      ...sanity,
      "",
      "Targets (reported, not asserted; medians)",
      ...targets.map((t) => `  ${t}`),
      "",
      `total run time ${((performance.now() - started) / 1000).toFixed(1)} s`,
    ];
    console.log(out.join("\n"));
  } finally {
    await cleanup.run();
  }
}

/** A difference in microseconds shown in nanoseconds with its sign: +12 ns, −3 ns. */
function signedNs(us: number): string {
  const ns = Math.round(us * 1000);
  return `${ns >= 0 ? "+" : "−"}${Math.abs(ns).toLocaleString("en-US")} ns`;
}

/** The one key the warm-up wrote (the Redis SET is fire-and-forget, so it may land a moment later). */
async function waitForSingleKey(redis: Redis, namespace: string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    // Fleet-lock keys (`…:lock`) come and go around a load; only the entry is wanted.
    const keys = (await redis.keys(`${namespace}:*`)).filter((key) => !key.endsWith(":lock"));
    if (keys.length > 1) throw new Error(`expected one key under ${namespace}:, found ${keys.length}`);
    if (keys.length === 1) return keys[0]!;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the warm-up wrote no key under ${namespace}:`);
}


main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
