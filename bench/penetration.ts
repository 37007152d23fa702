// Cache penetration, measured: lookups of records that do not exist, which a plain read cache
// cannot absorb (there is nothing to cache) and which therefore all reach the database.
//
//   npx tsx bench/penetration.ts        (BENCH_SCALE=0.2 for a quick smoke run)
//
// A scratch database holds USERS users. Two workloads of findUnique on ABSENT ids and emails
// (half each), every lookup awaited on its own (concurrent findUniques of one tick would be
// batched by Prisma into one query):
//   1. random absent keys: LOOKUPS keys drawn from a space of billions, practically all distinct;
//   2. repeated absent keys: REPEAT_KEYS keys looked up REPEAT_TIMES times each, shuffled.
// Configurations, side by side (each with its own PrismaClient, pg pool and cache namespace):
//   plain   — PrismaClient without the extension (reference);
//   (a)     — the extension without protection: negativeTtl 0, no Bloom filter;
//   (b)     — negative caching only (default negativeTtl, 30 s);
//   (b′)    — negative caching only, model l1: false (every negative hit is a Redis hit, as for a
//             fleet of many instances): repeated workload only;
//   (c)     — negative caching + Bloom filter (models.User.bloom), prepareBloom() first.
// The configurations are interleaved in 10 rounds (bench/lib/measure.ts), so drift of the machine
// spreads over all of them. DB statements are counted by a counting pg pool; Redis commands with
// MONITOR (bench/lib/redis-monitor.ts), per namespace, round trips only (commands run inside Lua
// scripts are counted apart).
//
// Creates a scratch database and keys under a unique prefix and removes both at the end.
// DATABASE_URL (admin connection) and REDIS_URL override the local defaults.
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import type { Redis } from "ioredis";
import { cacheExtension, type CacheExtensionOptions, type CacheStats } from "../src/index.ts";
import { CountingPool } from "../test/helpers/counting-pool.ts";
import { measure, type Stats, scaled } from "./lib/measure.ts";
import { countsBetween, describeCommands, startRedisMonitor, type NamespaceCounts } from "./lib/redis-monitor.ts";
import { deleteRunKeys, runKeys, waitForSubscribers } from "./lib/run-keys.ts";
import { Cleanup, connectRedis, createScratchDatabase, ensureGeneratedClient, redisUrl, uniqueNamespace, safeHost } from "./lib/setup.ts";
import { header, micros, renderTable, type Row } from "./lib/table.ts";
import { seededRandom } from "../test/helpers/random.ts";

const USERS = 50_000;
const LOOKUPS = scaled(20_000, 100);
const REPEAT_KEYS = scaled(500, 10);
const REPEAT_TIMES = 40;
/**
 * Configurations where every lookup is a database query (≈ 0.5–1.5 ms each) run the first
 * SLOW_LOOKUPS keys of a workload's sequence only, so the whole benchmark stays near a minute;
 * their per-lookup figures do not depend on the count. BENCH_FULL=1 runs every sequence in full.
 */
const SLOW_LOOKUPS = process.env.BENCH_FULL === "1" ? Infinity : scaled(5_000, 100);
/** Lookups of other absent keys per configuration before anything is counted (compilation, connections). */
const WARMUP = 200;
/** Ids of absent keys are drawn from (USERS, ID_SPACE]: Int is 32-bit in PostgreSQL. */
const ID_SPACE = 2_000_000_000;
const ROUNDS = 10;

type Where = { id: number } | { email: string };

interface ConfigSpec {
  id: string;
  label: string;
  /** Every lookup reaches the database in this configuration and workload: run SLOW_LOOKUPS of them. */
  slow?: boolean;
  /** Extension options (redis and namespace are added); undefined: the plain client. */
  options: Omit<CacheExtensionOptions, "redis" | "namespace"> | undefined;
  bloom?: boolean;
}

const PLAIN: ConfigSpec = { id: "plain", label: "plain PrismaClient (no cache)", options: undefined };
const NO_PROTECTION: ConfigSpec = { id: "none", label: "(a) extension, no protection (negativeTtl: 0)", options: { negativeTtl: 0, models: { User: true } } };
const NEGATIVE: ConfigSpec = { id: "neg", label: "(b) negative cache (negativeTtl 30 s)", options: { models: { User: true } } };
const NEGATIVE_L2: ConfigSpec = { id: "negl2", label: "(b′) negative cache, User l1: false", options: { models: { User: { l1: false } } } };
const BLOOM: ConfigSpec = { id: "bloom", label: "(c) negative cache + Bloom filter", options: { models: { User: { bloom: true } } }, bloom: true };

interface BloomInfo {
  buildMs: number;
  /** Statements the build sent (count + paged scan). */
  buildQueries: number;
  m: number;
  k: number;
  rows: number;
  bytes: number;
  /** Expected false-positive rate for the identities in it (two per row: id and email). */
  expectedFpRate: number;
}

interface Result {
  spec: ConfigSpec;
  lookups: number;
  /** Ran the first SLOW_LOOKUPS keys of the workload only. */
  truncated: boolean;
  queries: number;
  redis: NamespaceCounts;
  latency: Stats;
  /** Lookups that returned something other than null (must be 0). */
  wrong: number;
  stats: CacheStats | undefined;
  bloom?: BloomInfo;
}

async function main(): Promise<void> {
  const started = performance.now();
  ensureGeneratedClient();
  const { PrismaClient } = await import("../prisma/generated/client.ts");

  const cleanup = new Cleanup();
  try {
    // ── setup ────────────────────────────────────────────────────────────────────────────────
    const db = await createScratchDatabase("pcs_bench_penetration");
    cleanup.add("drop scratch database", db.drop);
    const seedStarted = performance.now();
    const seeder = new pg.Client({ connectionString: db.url });
    await seeder.connect();
    await seeder.query(`INSERT INTO "User" (email, name) SELECT 'user' || i || '@bench.example', 'Bench User ' || i FROM generate_series(1, ${USERS}) AS i`);
    await seeder.query(`ANALYZE "User"`);
    const { rows: [range] } = await seeder.query<{ min: number; max: number }>(`SELECT min(id) AS min, max(id) AS max FROM "User"`);
    await seeder.end();
    const seedMs = performance.now() - seedStarted;
    if (range!.max > USERS) throw new Error(`unexpected ids ${range!.min}..${range!.max}`);

    const redis = await connectRedis();
    cleanup.add("quit Redis", () => redis.quit());
    const prefix = uniqueNamespace("bench-pen");
    cleanup.add("delete Redis keys", () => deleteRunKeys(redis, prefix));
    const monitor = await startRedisMonitor(redis, redisUrl(), prefix);
    cleanup.add("stop Redis monitor", () => monitor.stop());

    // Keys: seeded, so every run (and every configuration) looks up the same ones.
    const random = seededRandom(20_240_601);
    const absentKey = (i: number): Where => (i % 2 === 0 ? { id: USERS + 1 + Math.floor(random() * (ID_SPACE - USERS)) } : { email: `absent-${Math.floor(random() * 1e12)}@bench.example` });
    const randomKeys = Array.from({ length: LOOKUPS }, (_, i) => absentKey(i));
    const repeatedDistinct = Array.from({ length: REPEAT_KEYS }, (_, i) => absentKey(i));
    const repeatedKeys = shuffle(repeatedDistinct.flatMap((key) => Array.from({ length: REPEAT_TIMES }, () => key)), random);
    const warmupKeys = Array.from({ length: WARMUP }, (_, i) => absentKey(i));

    const createInstance = (workload: string, spec: ConfigSpec) => {
      const namespace = `${prefix}-${workload}-${spec.id}`;
      const pool = new CountingPool({ connectionString: db.url, max: 4 });
      const base = new PrismaClient({ adapter: new PrismaPg(pool) });
      const cached = spec.options === undefined ? undefined : base.$extends(cacheExtension({ ...spec.options, redis, namespace }));
      const find = cached === undefined ? (where: Where) => base.user.findUnique({ where }) : (where: Where) => cached.user.findUnique({ where });
      const close = async () => {
        await cached?.$cache.close();
        await base.$disconnect();
        await pool.end().catch(() => {});
      };
      return { spec, namespace, pool, base, cache: cached?.$cache, find, close };
    };
    type Instance = ReturnType<typeof createInstance>;

    /** One workload over several configurations, interleaved. */
    const runWorkload = async (workload: string, keys: readonly Where[], specs: readonly ConfigSpec[]): Promise<Result[]> => {
      const lookupsOf = (spec: ConfigSpec) => (spec.slow ? Math.min(keys.length, SLOW_LOOKUPS) : keys.length);
      const instances: Instance[] = specs.map((spec) => createInstance(workload, spec));
      try {
        const bloom = new Map<Instance, BloomInfo>();
        for (const instance of instances) {
          // A client's first query instantiates Prisma's query compiler: not part of anything measured.
          await instance.base.user.findFirst({ select: { id: true } });
          if (instance.cache === undefined) continue;
          await waitForSubscribers(redis, instance.namespace, 1);
          if (instance.spec.bloom) bloom.set(instance, await prepareBloom(redis, instance));
        }
        for (const instance of instances) for (const where of warmupKeys) await instance.find(where);

        const before = await monitor.snapshot();
        const queriesBefore = instances.map((instance) => instance.pool.queries);
        const statsBefore = instances.map((instance) => instance.cache?.stats());
        const cursors = instances.map(() => 0);
        const wrong = instances.map(() => 0);
        const latencies = await measure(
          instances.map((instance, i) => ({
            name: instance.spec.label,
            kind: "async" as const,
            fn: async () => {
              if ((await instance.find(keys[cursors[i]!++]!)) !== null) wrong[i]!++;
            },
            samples: lookupsOf(instance.spec),
            warmup: 0,
          })),
          { rounds: ROUNDS },
        );
        // Background work (stores into Redis, lock releases: not awaited by the reads) lands before the counts are taken.
        for (const instance of instances) await instance.cache?.drain();
        await new Promise((resolve) => setTimeout(resolve, 50));
        const after = await monitor.snapshot();
        return instances.map((instance, i) => ({
          spec: instance.spec,
          lookups: cursors[i]!,
          truncated: cursors[i]! < keys.length,
          queries: instance.pool.queries - queriesBefore[i]!,
          redis: countsBetween(before, after, instance.namespace),
          latency: latencies[i]!,
          wrong: wrong[i]!,
          stats: instance.cache === undefined ? undefined : subtractStats(statsBefore[i]!, instance.cache.stats()),
          bloom: bloom.get(instance),
        }));
      } finally {
        for (const instance of instances) await instance.close();
      }
    };

    // ── measurements ─────────────────────────────────────────────────────────────────────────
    const slow = (spec: ConfigSpec): ConfigSpec => ({ ...spec, slow: true });
    const randomResults = await runWorkload("random", randomKeys, [slow(PLAIN), slow(NO_PROTECTION), slow(NEGATIVE), BLOOM]);
    const repeated = await runWorkload("repeat", repeatedKeys, [slow(PLAIN), slow(NO_PROTECTION), NEGATIVE, NEGATIVE_L2, BLOOM]);
    await monitor.stop();
    const deleted = await deleteRunKeys(redis, prefix);
    const keysLeft = (await runKeys(redis, prefix)).length;

    // ── report ───────────────────────────────────────────────────────────────────────────────
    const count = (v: number) => v.toLocaleString("en-US");
    const perLookup = (v: number, lookups: number) => (v === 0 ? "0" : v / lookups >= 0.01 ? (v / lookups).toFixed(3) : (v / lookups).toPrecision(2));
    const pct = (v: number) => `${(v * 100).toFixed(v < 0.001 ? 3 : 2)} %`;
    const columns = [
      { header: "configuration" },
      { header: "lookups" },
      { header: "DB queries" },
      { header: "per lookup" },
      { header: "Redis cmds" },
      { header: "per lookup" },
      { header: "median µs" },
      { header: "p99 µs" },
      { header: "Bloom rejects" },
      { header: "false positives" },
      { header: "wrong" },
    ];
    const row = (r: Result): string[] => {
      const rejects = r.stats?.bloomRejects ?? 0;
      return [
        `  ${r.spec.label}`,
        `${r.truncated ? "*" : ""}${count(r.lookups)}`,
        count(r.queries),
        perLookup(r.queries, r.lookups),
        r.spec.options === undefined ? "0" : count(r.redis.total),
        r.spec.options === undefined ? "0" : perLookup(r.redis.total, r.lookups),
        micros(r.latency.median),
        micros(r.latency.p99),
        r.spec.bloom ? count(rejects) : "–",
        r.spec.bloom ? falsePositives(r) : "–",
        String(r.wrong),
      ];
    };
    const falsePositives = (r: Result): string => {
      const rejects = r.stats!.bloomRejects;
      if (r === bloomRepeated) {
        // Per distinct key: a key the filter passes is loaded once, then served from the negative cache.
        return `${count(r.queries)}/${count(REPEAT_KEYS)} keys (${pct(r.queries / REPEAT_KEYS)})`;
      }
      return `${count(r.lookups - rejects)} (${pct((r.lookups - rejects) / r.lookups)})`;
    };
    const slowNote = (total: number) => (SLOW_LOOKUPS < total ? `; * = first ${count(SLOW_LOOKUPS)} only (every lookup is a DB query)` : "");
    const bloomRandom = randomResults.find((r) => r.spec.bloom)!;
    const bloomRepeated = repeated.find((r) => r.spec.bloom)!;
    const rows: Row[] = [
      { section: `1. random absent keys: ${count(LOOKUPS)} lookups, ${count(new Set(randomKeys.map(keyOf)).size)} distinct (half ids, half emails)${slowNote(LOOKUPS)}` },
      ...randomResults.map(row),
      { rule: true },
      { section: `2. repeated absent keys: ${count(REPEAT_KEYS)} keys × ${REPEAT_TIMES} lookups each, shuffled${slowNote(repeatedKeys.length)}` },
      ...repeated.map(row),
    ];

    const breakdown = (title: string, results: Result[]) => [
      title,
      ...results
        .filter((r) => r.spec.options !== undefined)
        .map((r) => `  ${r.spec.label.padEnd(52)} ${describeCommands(r.redis.commands)}\n  ${"".padEnd(52)} inside scripts: ${describeCommands(r.redis.luaCommands)}`),
    ];
    const counters = (title: string, results: Result[]) => [
      title,
      ...results
        .filter((r) => r.stats !== undefined)
        .map((r) => {
          const s = r.stats!;
          const bypasses = Object.entries(s.bypasses).map(([reason, n]) => `${n} ${reason}`).join(", ");
          return (
            `  ${r.spec.label.padEnd(52)} misses ${count(s.misses)}, DB loads ${count(s.dbLoads)}, L1 hits ${count(s.l1Hits)}, L2 hits ${count(s.l2Hits)}, ` +
            `negative hits ${count(s.negativeHits)}, locks ${count(s.lockAcquisitions)}, Bloom rejects ${count(s.bloomRejects)}, L1 entries +${count(s.l1Entries)}` +
            (s.redisErrors + s.redisTimeouts > 0 ? `, Redis errors ${s.redisErrors} timeouts ${s.redisTimeouts}` : "") +
            (bypasses === "" ? "" : `, bypasses: ${bypasses}`)
          );
        }),
    ];

    const info = bloomRandom.bloom!;
    const infoRepeat = bloomRepeated.bloom!;
    const warnings: string[] = [];
    for (const r of [...randomResults, ...repeated]) {
      if (r.wrong > 0) warnings.push(`WARNING: ${r.spec.label}: ${r.wrong} lookups of absent keys returned a record`);
      if ((r.stats?.redisErrors ?? 0) + (r.stats?.redisTimeouts ?? 0) > 0) warnings.push(`WARNING: ${r.spec.label}: the cache absorbed Redis errors/timeouts; those reads bypassed it`);
    }

    const out = [
      header("prisma-cache-shield — cache penetration (lookups of absent records)", {
        postgres: `${new URL(db.url).host} (scratch database ${db.name}): ${count(USERS)} users seeded in ${(seedMs / 1000).toFixed(1)} s`,
        redis: `${safeHost(redisUrl())}, namespaces ${prefix}-*; commands counted with MONITOR (from a child process)`,
        lookups: `findUnique, one at a time, configurations interleaved in ${ROUNDS} rounds; ${WARMUP} warm-up lookups of other absent keys each, not counted`,
      }),
      "",
      renderTable(columns, rows),
      "",
      "DB queries: statements the configuration's pg pool sent. Redis cmds: commands its namespace's clients sent (MONITOR), round trips",
      "only: the commands Lua scripts run inside Redis are listed below as \"inside scripts\". Latency per lookup, awaited one at a time.",
      "False positives: lookups the Bloom filter let through (1 − rejects / lookups); for the repeated workload, distinct keys let through.",
      "",
      `Bloom filter of User (built by prepareBloom(), shared in Redis under {${prefix}-…}:<client>:bloom:User)`,
      `  build: ${micros(info.buildMs)} ms (repeat workload's instance: ${micros(infoRepeat.buildMs)} ms), ${count(info.buildQueries)} DB statements (count + paged scan of ${count(info.rows)} rows)`,
      `  size: m = ${count(info.m)} bits (${(info.bytes / 1024).toFixed(1)} KiB in Redis), k = ${info.k} hashes; ${count(info.rows * 2)} identities (id + email per row)`,
      `  false-positive rate: expected ${pct(info.expectedFpRate)} at this fill (sized for 2× the rows at errorRate 1 %), observed ${pct((bloomRandom.lookups - bloomRandom.stats!.bloomRejects) / bloomRandom.lookups)} over ${count(bloomRandom.lookups)} random absent lookups`,
      "",
      ...breakdown("Redis commands by name, workload 1", randomResults),
      ...breakdown("Redis commands by name, workload 2", repeated),
      "",
      ...counters("Extension counters ($cache.stats() deltas), workload 1", randomResults),
      ...counters("Extension counters ($cache.stats() deltas), workload 2", repeated),
      ...(warnings.length === 0 ? [] : ["", ...warnings]),
      "",
      `clean-up: ${count(deleted)} Redis keys of the run deleted (entries, negative entries, versions, Bloom filters), ${count(keysLeft)} left; scratch database dropped at exit`,
      `total run time ${((performance.now() - started) / 1000).toFixed(1)} s`,
    ];
    console.log(out.join("\n"));
  } finally {
    await cleanup.run();
  }
}

/** Builds (or loads) the Bloom filter of User and describes it. */
async function prepareBloom(redis: Redis, instance: { namespace: string; pool: CountingPool; cache?: { prepareBloom(): Promise<void>; stats(): CacheStats } }): Promise<BloomInfo> {
  const queries = instance.pool.queries;
  const t0 = performance.now();
  await instance.cache!.prepareBloom();
  const buildMs = performance.now() - t0;
  const buildQueries = instance.pool.queries - queries;
  if (instance.cache!.stats().bloomBuilds !== 1) throw new Error(`prepareBloom() built ${instance.cache!.stats().bloomBuilds} filters, expected 1`);
  // Filters are kept per client identity (which database): `{namespace}:<client>:bloom:User`.
  const [meta] = await redis.keys(`{${instance.namespace}}:*:bloom:User`);
  if (meta === undefined) throw new Error("no Bloom filter of User in Redis");
  const [m, k, rows] = (await redis.hmget(meta, "m", "k", "rows")).map(Number);
  const bytes = await redis.strlen(`${meta}:bits`);
  const items = rows! * 2;
  return { buildMs, buildQueries, m: m!, k: k!, rows: rows!, bytes, expectedFpRate: (1 - Math.exp((-k! * items) / m!)) ** k! };
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

/** Counter deltas; hotKeys and gauges as of the end. */
function subtractStats(before: CacheStats, after: CacheStats): CacheStats {
  const out = { ...after } as Record<string, unknown>;
  for (const [field, value] of Object.entries(after)) {
    const was = (before as unknown as Record<string, unknown>)[field];
    if (typeof value === "number" && typeof was === "number") out[field] = value - was;
  }
  const bypasses: Record<string, number> = {};
  for (const [reason, n] of Object.entries(after.bypasses)) if (n - (before.bypasses[reason] ?? 0) !== 0) bypasses[reason] = n - (before.bypasses[reason] ?? 0);
  out.bypasses = bypasses;
  return out as unknown as CacheStats;
}

function keyOf(where: Where): string {
  return "id" in where ? `id:${where.id}` : `email:${where.email}`;
}


function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}


main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
