import dc from "node:diagnostics_channel";
import v8 from "node:v8";
import vm from "node:vm";
import { metrics } from "@opentelemetry/api";
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Codec } from "../../src/codec/codec.ts";
import { prismaDecimal } from "../../src/prisma/prisma-values.ts";
import { QueryStats, TRACKED_PER_RECORDED } from "../../src/stats/query-stats.ts";
import { ERA_HALF_LIVES, LIVE_INSTANCES } from "../../src/stats/stats-scripts.ts";
import { RedisStore } from "../../src/stores/redis-store.ts";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension, TRACING_CHANNELS, type CacheError, type CacheEvent, type TraceContext, type WarmProgress } from "../../src/index.ts";
import { routeCacheConnections } from "../helpers/connection-routes.ts";
import { CountingPool } from "../helpers/counting-pool.ts";
import { HoldingProxy } from "../helpers/holding-proxy.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { FakeClock } from "../helpers/random.ts";
import { seedUser } from "../helpers/seed.ts";
import { deleteEntries, queriesFor, runRecorded, seedUsers, serveTraffic } from "../helpers/stats.ts";
import { databaseUrl } from "../helpers/databases.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// An SDK registered before any client is created, as an application would: the cache's metrics land here.
const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
const provider = new MeterProvider({ readers: [reader] });
beforeAll(() => void metrics.setGlobalMeterProvider(provider));
afterAll(() => provider.shutdown());

describe("query statistics and warm()", () => {
  it("statistics put in a later era than Redis's clock (a previous version's instance running ahead) move back into Redis's era, not every later read down by 2^-32 (outside probe 238)", async () => {
    const namespace = uniqueNamespace();
    const halfLifeMs = 60_000;
    const redis = createRedis();
    const c = createCachedClient({ namespace, queryStats: { halfLife: halfLifeMs / 1000 } });
    try {
      const [seconds] = await redis.time();
      const era = Math.floor((Number(seconds) * 1000) / (halfLifeMs * ERA_HALF_LIVES));
      await redis.set(`{${namespace}}:qs:era`, era + 1);
      await redis.zadd(`{${namespace}}:qs:scores`, 1, "a query counted in the next era");
      const user = await seedUser(c.base);
      for (let i = 0; i < 200; i++) await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.$cache.drain();
      expect(Number(await redis.get(`{${namespace}}:qs:era`))).toBe(era);
      const scores = await redis.zrange(`{${namespace}}:qs:scores`, 0, -1, "WITHSCORES");
      const own = scores.flatMap((member, i) => (i % 2 === 0 && member !== "a query counted in the next era" ? [Number(scores[i + 1])] : []));
      // 200 reads weigh at least 200 in their own era (2^(time into it / half-life) each); scaled down, under 200.
      expect(own).toHaveLength(1);
      expect(own[0]).toBeGreaterThanOrEqual(200);
      expect(Number(await redis.zscore(`{${namespace}}:qs:scores`, "a query counted in the next era"))).toBe(2 ** ERA_HALF_LIVES);
    } finally {
      await c.close();
      redis.disconnect();
    }
  });

  it("weighs reads on Redis's clock: an instance whose clock runs 10 minutes ahead does not outrank the fleet (outside probe 234: 20 of its reads outranked 2 000)", async () => {
    const namespace = uniqueNamespace();
    const queryStats = { halfLife: 60 };
    const ahead = createCachedClient({ namespace, queryStats, clock: { now: () => Date.now() + 600_000 } });
    const onTime = createCachedClient({ namespace, queryStats });
    try {
      const [few, many] = await Promise.all([seedUser(ahead.base), seedUser(ahead.base)]);
      for (let i = 0; i < 20; i++) await ahead.prisma.user.findUnique({ where: { id: few.id } });
      for (let i = 0; i < 200; i++) await onTime.prisma.user.findUnique({ where: { id: many.id } });
      await Promise.all([ahead.prisma.$cache.drain(), onTime.prisma.$cache.drain()]);
      // One shape, one load time: popularity alone orders them (the ahead one's weighed 2^10 times more before).
      const top = await onTime.prisma.$cache.topQueries({ limit: 2 });
      expect(top.map((query) => query.args)).toEqual([{ where: { id: many.id } }, { where: { id: few.id } }]);
    } finally {
      await Promise.all([ahead.close(), onTime.close()]);
    }
  });

  it("survive a new instance: A serves traffic, B starts cold, B.warm() makes B's first reads of the top queries hits", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    const a = createCachedClient({ namespace });
    let b: ReturnType<typeof createCachedClient> | undefined;
    try {
      const queries = queriesFor(await seedUsers(a.base, 10));
      await serveTraffic(a.prisma, queries, 40);
      await a.prisma.$cache.drain();
      const top = await a.prisma.$cache.topQueries({ limit: 20 });
      expect(top).toHaveLength(20);
      expect(top.every((query) => query.skipReason === undefined)).toBe(true);
      // The most read query is among the top (popularity × load time ranks them).
      expect(top.map((query) => JSON.stringify(query.args))).toContain(JSON.stringify(queries[0]!.args));
      await a.close();
      // A deploy: a new process with a cold L1, and Redis emptied of entries (statistics stay).
      expect(await deleteEntries(redis, namespace)).toBeGreaterThan(0);

      b = createCachedClient({ namespace });
      const result = await b.prisma.$cache.warm({ top: 20 });
      expect(result).toMatchObject({ warmed: 20, failed: 0, skipped: 0, total: 20 });
      const loadsAfterWarm = b.pool.queries;
      const before = b.prisma.$cache.stats();
      for (const query of top) await runRecorded(b.prisma, query);
      const after = b.prisma.$cache.stats();
      const hits = after.hits - before.hits;
      const l1Hits = after.l1Hits - before.l1Hits;
      console.log(`warm hit rate: ${hits}/20 first requests were hits (${l1Hits} from L1); ${b.pool.queries - loadsAfterWarm} reached the database`);
      expect(hits / 20).toBeGreaterThanOrEqual(0.9);
      expect(b.pool.queries - loadsAfterWarm).toBeLessThanOrEqual(2);
    } finally {
      await b?.close();
      redis.disconnect();
    }
  });

  it("a query shape's first load in a process is its cost only while no later load is known: Prisma compiles it then, and opens a connection (outside probes 239 and 242)", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    try {
      const stats = recorder(redis, namespace, "fp");
      const sample = { $model: "User", $operation: "findUnique", $args: { where: { id: 1 } }, $cacheOption: undefined };
      // Loaded again: its later loads are its cost (probe 239: 243 ms recorded for a 6 ms query).
      stats.popularity!.add(`${namespace}:fp:User:findUnique:{"where":{"id":n1}}`, sample);
      stats.loaded(sample, 243);
      stats.loaded(sample, 6);
      stats.loaded(sample, 6);
      // Loaded once (a costly query the cache then serves): its first load stands in (probe 242: it counted 1 ms, and warm() skipped it).
      const costly = { $model: "Post", $operation: "aggregate", $args: { _count: true }, $cacheOption: undefined };
      stats.popularity!.add(`${namespace}:fp:Post:aggregate:{"_count":true}`, costly);
      stats.loaded(costly, 56);
      await stats.flush();
      const costs = Object.fromEntries((await stats.top(2)).map((query) => [query.model, query.loadMs]));
      expect(costs).toEqual({ User: 6, Post: 56 });
    } finally {
      redis.disconnect();
    }
  });

  it("reports progress after every query, and skips queries of models no longer cached or of another schema", async () => {
    const namespace = uniqueNamespace();
    const a = createCachedClient({ namespace });
    const b = createCachedClient({ namespace, models: { User: true } });
    const redis = createRedis();
    try {
      const queries = queriesFor(await seedUsers(a.base, 4));
      await serveTraffic(a.prisma, queries, 3);
      await a.prisma.$cache.drain();
      // Statistics written by an older deploy, under another schema fingerprint.
      const old = recorder(redis, namespace, "an-old-schema");
      old.popularity!.add(`${namespace}:an-old-schema:User:findUnique:{"where":{"id":n1}}`, { $model: "User", $operation: "findUnique", $args: { where: { id: 1 } }, $cacheOption: undefined });
      await old.flush();

      const progress: WarmProgress[] = [];
      const result = await b.prisma.$cache.warm({ top: 100, concurrency: 3, onProgress: (p) => progress.push(p) });
      expect(result.total).toBe(queries.length + 1);
      expect(result.warmed).toBe(4);
      expect(result.skippedBy).toEqual({ "model not cached": 8, "schema changed": 1 });
      expect(result.skipped).toBe(9);
      expect(progress.map((p) => p.done)).toEqual(Array.from({ length: result.total }, (_, i) => i + 1));
      expect(progress.at(-1)).toEqual({ total: result.total, done: result.total, warmed: 4, failed: 0, skipped: 9 });
      const listed = await b.prisma.$cache.topQueries({ limit: 100 });
      expect(listed.filter((query) => query.skipReason === "schema changed")).toHaveLength(1);
      expect((await b.prisma.$cache.topQueries({ model: "User", limit: 100 })).every((query) => query.model === "User")).toBe(true);
      await expect(b.prisma.$cache.warm({ top: 0 })).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT", argument: "top" });
    } finally {
      await Promise.all([a.close(), b.close()]);
      redis.disconnect();
    }
  });

  it("replays the `top` queries it can: those of another schema ranked above them do not take the budget", async () => {
    const namespace = uniqueNamespace();
    const a = createCachedClient({ namespace, models: { User: true } });
    const redis = createRedis();
    let b: ReturnType<typeof createCachedClient> | undefined;
    try {
      const queries = queriesFor(await seedUsers(a.base, 4)).filter((query) => query.model === "User");
      await serveTraffic(a.prisma, queries, 3);
      await a.prisma.$cache.drain();
      // The deploy before this one's schema: its queries were read far more often (they rank first).
      const old = recorder(redis, namespace, "an-old-schema");
      for (let id = 1; id <= 6; id++) {
        for (let i = 0; i < 1_000; i++) old.popularity!.add(`${namespace}:an-old-schema:User:findUnique:{"where":{"id":n${id}}}`, { $model: "User", $operation: "findUnique", $args: { where: { id } }, $cacheOption: undefined });
      }
      await old.flush();
      const ranked = await a.prisma.$cache.topQueries({ limit: 100 });
      expect(ranked.slice(0, 6).every((query) => query.skipReason === "schema changed")).toBe(true);

      b = createCachedClient({ namespace, models: { User: true } });
      const result = await b.prisma.$cache.warm({ top: queries.length });
      expect(result).toMatchObject({ warmed: queries.length, failed: 0, skipped: 6, skippedBy: { "schema changed": 6 }, total: queries.length + 6 });
    } finally {
      await Promise.all([a.close(), b?.close()]);
      redis.disconnect();
    }
  });

  it("counts one query once, whatever the options of the clients that read it (a global omit): topQueries lists it once", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    const a = createCachedClient({ namespace, models: { User: true } });
    // Another service's client: the same database and query, a global omit of its own (another key scope).
    const pool = new CountingPool({ connectionString: databaseUrl(), max: 2 });
    const omitting = new PrismaClient({ adapter: new PrismaPg(pool), omit: { user: { avatar: true } } });
    const b = omitting.$extends(cacheExtension({ redis, namespace, models: { User: true } }));
    try {
      const [id] = await seedUsers(a.base, 1);
      for (let i = 0; i < 3; i++) {
        await a.prisma.user.findUnique({ where: { id: id! } });
        await b.user.findUnique({ where: { id: id! } });
      }
      await Promise.all([a.prisma.$cache.drain(), b.$cache.drain()]);
      const listed = (await a.prisma.$cache.topQueries({ limit: 100 })).filter((query) => JSON.stringify(query.args) === JSON.stringify({ where: { id } }));
      expect(listed).toHaveLength(1);
    } finally {
      await b.$cache.close();
      await omitting.$disconnect();
      await a.close();
      redis.disconnect();
    }
  });

  it("records no query Prisma refuses as invalid: warm() would replay it and report it failed at every start", async () => {
    const namespace = uniqueNamespace();
    const a = createCachedClient({ namespace, models: { User: true } });
    let b: ReturnType<typeof createCachedClient> | undefined;
    try {
      const [id] = await seedUsers(a.base, 1);
      // Loaded through the cache and refused; or left to Prisma (no unique key in where), which refuses them.
      const invalid = [{ where: { id: id! }, select: { nope: true } }, { where: {} }, { where: { id: "abc" } }, { where: { name: "x" } }] as never[];
      for (let i = 0; i < 5; i++) {
        for (const args of invalid) await expect(a.prisma.user.findUnique(args)).rejects.toMatchObject({ name: "PrismaClientValidationError" });
        await a.prisma.user.findUnique({ where: { id: id! } });
      }
      await a.prisma.$cache.drain();
      const recorded = await a.prisma.$cache.topQueries({ limit: 100 });
      expect(recorded.map((query) => query.args)).toEqual([{ where: { id } }]);

      b = createCachedClient({ namespace, models: { User: true } });
      expect(await b.prisma.$cache.warm({ top: 10 })).toMatchObject({ warmed: 1, failed: 0, total: 1 });
    } finally {
      await Promise.all([a.close(), b?.close()]);
    }
  });

  it("counts 1 000 000 reads of distinct queries in bounded memory and work: top-K in Redis, 2 × K keys in process", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    const gc = exposeGc();
    try {
      const stats = recorder(redis, namespace, "fp");
      const popularity = stats.popularity!;
      const key = (id: number) => `${namespace}:fp:User:findUnique:{"where":{"id":n${id}}}`;
      const sample = (id: number) => ({ $model: "User", $operation: "findUnique", $args: { where: { id } }, $cacheOption: undefined });
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      let peakHeap = heapBefore;
      let peakTracked = 0;
      for (let i = 0; i < 1_000_000; i++) {
        popularity.add(key(1_000 + i), sample(1_000 + i));
        // 50 hot queries among the million cold ones: 2 000 reads each.
        if (i % 10 === 0) popularity.add(key((i % 500) / 10), sample((i % 500) / 10));
        // The flush timer, every 100 000 reads: while a batch is in flight counting goes on.
        if (i % 100_000 === 99_999) void stats.flush();
        peakTracked = Math.max(peakTracked, popularity.size);
        if (i % 100_000 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      }
      await stats.flush();
      gc();
      const heapAfter = process.memoryUsage().heapUsed;
      const keys = [`{${namespace}}:qs:scores`, `{${namespace}}:qs:queries`, `{${namespace}}:qs:costs`];
      const [scores, queries] = await Promise.all([redis.zcard(keys[0]!), redis.hlen(keys[1]!)]);
      const bytes = (await Promise.all(keys.map((k) => redis.memory("USAGE", k)))).map((n) => Number(n ?? 0));
      const totalBytes = bytes.reduce((sum, n) => sum + n, 0);
      const { reads, sweeps, swept } = popularity.counts;
      console.log(
        `${reads} reads counted: at most ${peakTracked} queries tracked, ${sweeps} sweeps examined ${swept} entries (${(swept / reads).toFixed(2)} per read); ` +
          `Redis keeps ${scores} scores, ${queries} queries = ${(totalBytes / 1024).toFixed(0)} KiB; heap ${((heapAfter - heapBefore) / 1048576).toFixed(1)} MiB after GC ` +
          `(peak +${((peakHeap - heapBefore) / 1048576).toFixed(1)} MiB with garbage)`,
      );
      expect(reads).toBe(1_100_000);
      expect(stats.counts.counted).toBe(1_100_000);
      // Memory: the in-process structure never holds more than 2 × maxQueries keys.
      expect(peakTracked).toBeLessThanOrEqual(1_000 * TRACKED_PER_RECORDED);
      // Work: a sweep frees at least half the slots, so it examines at most 2 entries per read, amortized.
      expect(swept).toBeLessThanOrEqual(2 * reads);
      expect(scores).toBe(1_000);
      expect(queries).toBe(1_000);
      expect(totalBytes).toBeLessThan(1024 * 1024);
      expect(heapAfter - heapBefore).toBeLessThan(16 * 1024 * 1024);
      expect(stats.counts.dropped).toBe(0);
      // The heavy hitters are found among a million one-off queries: the 50 best are exactly the 50 hot ones.
      const best = await stats.top(50);
      expect(new Set(best.map((query) => (query.args as { where: { id: number } }).where.id))).toEqual(new Set(Array.from({ length: 50 }, (_, i) => i)));
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it("keeps the load times of at most 2 × maxQueries + 64 query shapes in Redis, however many shapes are loaded (outside probe 288: one field per shape ever loaded)", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    try {
      const stats = recorder(redis, namespace, "fp", 100);
      // A Json filter's keys are structure: each key a user types is a shape of its own.
      const sample = (i: number) => ({ $model: "User", $operation: "findFirst", $args: { where: { profile: { equals: { [`field${i}`]: 1 } } } }, $cacheOption: undefined });
      const lengths: number[] = [];
      for (let i = 0; i < 3_000; i++) {
        stats.popularity!.add(`${namespace}:fp:User:findFirst:${i}`, sample(i));
        // A shape's first load and a later one go to two hashes (first costs, costs).
        stats.loaded(sample(i), 3);
        stats.loaded(sample(i), 2);
        if (i % 250 === 249) {
          await stats.flush();
          lengths.push(Math.max(await redis.hlen(`{${namespace}}:qs:costs`), await redis.hlen(`{${namespace}}:qs:first-costs`)));
        }
      }
      expect(Math.max(...lengths)).toBeLessThanOrEqual(2 * 100 + 64);
      expect(await redis.zcard(`{${namespace}}:qs:scores`)).toBe(100);
      // The kept queries keep their shapes' load times: warm() still ranks them by cost.
      const best = await stats.top(100);
      expect(best).toHaveLength(100);
      expect(best.every((query) => query.loadMs === 2)).toBe(true);
    } finally {
      redis.disconnect();
    }
  });

  it("keeps a costly shape's load time through the trims though its query is not kept yet: served from the cache, it is not loaded again (outside probe 290)", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    try {
      const stats = recorder(redis, namespace, "fp", 100);
      const costly = { $model: "Post", $operation: "count", $args: { where: { meta: { path: ["a"], equals: 1 } } }, $cacheOption: undefined };
      // Loaded once or twice, then served from the cache: its cost is learnt now or never.
      stats.loaded(costly, 180);
      stats.loaded(costly, 160);
      await stats.flush();
      const cheap = (i: number) => ({ $model: "User", $operation: "findFirst", $args: { where: { profile: { equals: { [`field${i}`]: 1 } } } }, $cacheOption: undefined });
      for (let i = 0; i < 3_000; i++) {
        stats.popularity!.add(`${namespace}:fp:User:findFirst:${i}`, cheap(i));
        stats.loaded(cheap(i), 3);
        stats.loaded(cheap(i), 2);
        if (i % 250 === 249) await stats.flush();
      }
      // Now popular.
      for (let i = 0; i < 5; i++) stats.popularity!.add(`${namespace}:fp:Post:count`, costly);
      await stats.flush();
      const best = await stats.top(5);
      expect(best[0]).toMatchObject({ model: "Post", operation: "count" });
      expect(best[0]!.loadMs).toBeCloseTo(160);
    } finally {
      redis.disconnect();
    }
  });

  it("stats().hotKeys lists only keys read at least hotKeys.threshold times in the window", async () => {
    const c = createCachedClient({ hotKeys: { threshold: 64 } });
    try {
      const [hot, lukewarm] = [await seedUser(c.base), await seedUser(c.base)];
      for (let i = 0; i < 3; i++) await c.prisma.user.findUnique({ where: { id: lukewarm.id } });
      expect(c.prisma.$cache.stats().hotKeys).toEqual([]);
      for (let i = 0; i < 200; i++) await c.prisma.user.findUnique({ where: { id: hot.id } });
      const listed = c.prisma.$cache.stats().hotKeys;
      expect(listed).toHaveLength(1);
      expect(listed[0]!.key).toContain(`${hot.id}`);
      expect(listed[0]!.estimate).toBeGreaterThanOrEqual(64);
    } finally {
      await c.close();
    }
  });

  it("fleetStats() reads again after a Redis read timed out (a stalled event loop at a loaded start; outside probe 96)", async () => {
    // The cache's command connection through a proxy that holds the reply to the fleet read once, past redisTimeout.
    const proxy = await HoldingProxy.start(inject("redisUrl"));
    const redis = createRedis();
    routeCacheConnections(redis, { commands: { host: "127.0.0.1", port: proxy.port } });
    const c = createCachedClient({ redis, redisTimeout: 250 });
    try {
      await c.prisma.$cache.fleetStats();
      const held = proxy.holdAfter((chunk) => chunk.includes(LIVE_INSTANCES.sha), 400);
      const fleet = await c.prisma.$cache.fleetStats();
      await held;
      expect(fleet.redisUnavailable, "answered from the fleet's counters").toBeUndefined();
    } finally {
      await c.close();
      redis.disconnect();
      await proxy.stop();
    }
  });

  it("fleetStats() counts every instance whatever their clocks say: the fleet view is timed by Redis's (outside probe 155: one clock 30 s ahead dropped the others)", async () => {
    const namespace = uniqueNamespace();
    const skews = [0, 30_000, -30_000, 600_000];
    const caches = skews.map((skew) => createCachedClient({ namespace, clock: { now: () => Date.now() + skew } }));
    try {
      // Each publishes in turn, the skewed ones last (a publish removed entries older than its own clock allowed).
      for (const c of caches) await c.prisma.$cache.drain();
      for (const [i, c] of caches.entries()) expect((await c.prisma.$cache.fleetStats()).instances, `read by the instance ${skews[i]} ms off`).toBe(skews.length);
    } finally {
      for (const c of caches) await c.close();
    }
  });

  it("fleetStats() counts the calling instance once it served reads, before its first flush; one that served none, as the CLI, does not count itself (outside probe 247)", async () => {
    const namespace = uniqueNamespace();
    const reader = createCachedClient({ namespace, queryStats: { flushInterval: 60_000 } });
    const idle = createCachedClient({ namespace, queryStats: { flushInterval: 60_000 } });
    try {
      const user = await seedUser(reader.base);
      await reader.prisma.user.findUnique({ where: { id: user.id } });
      await reader.prisma.user.findUnique({ where: { id: user.id } });
      const own = await reader.prisma.$cache.fleetStats();
      expect(own.instances).toBe(1);
      expect(own.stats?.hits).toBe(1);
      expect(own.stats?.misses).toBe(1);
      expect((await idle.prisma.$cache.fleetStats()).instances, "the idle instance reads the reader's counters, not its own").toBe(1);
    } finally {
      await reader.close();
      await idle.close();
    }
  });

  it("resetStats() sets the counters back to zero", async () => {
    const c = createCachedClient();
    try {
      const user = await seedUser(c.base);
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.user.findUnique({ where: { id: user.id } });
      expect(c.prisma.$cache.stats()).toMatchObject({ hits: 1, misses: 1, queryStats: { counted: 2 } });
      c.prisma.$cache.resetStats();
      const stats = c.prisma.$cache.stats();
      expect(stats).toMatchObject({ hits: 0, misses: 0, l1Hits: 0, dbLoads: 0, models: {}, bypasses: {}, queryStats: { counted: 0, flushed: 0, dropped: 0, flushFailures: 0 } });
      // L1 is not part of the counters: the entry is still served.
      await c.prisma.user.findUnique({ where: { id: user.id } });
      expect(c.prisma.$cache.stats()).toMatchObject({ hits: 1, l1Hits: 1, queryStats: { counted: 1 } });
    } finally {
      await c.close();
    }
  });
});

describe("events", () => {
  it("emits hit, miss, stale, invalidation and error events", async () => {
    const clock = new FakeClock();
    const c = createCachedClient({ clock, jitter: 0, earlyRefreshBeta: 0, models: { User: { ttl: 10, swr: 60 } } });
    try {
      const user = await seedUser(c.base);
      const events: CacheEvent[] = [];
      const record = (event: CacheEvent) => events.push(event);
      for (const type of ["hit", "miss", "stale", "invalidation", "error"] as const) c.prisma.$cache.events.on(type, record);
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.user.findUnique({ where: { id: user.id } });
      clock.advance(10_001);
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.$cache.drain();
      await c.prisma.user.update({ where: { id: user.id }, data: { name: "changed" } });
      await c.prisma.$cache.warm({ onProgress: () => {
        throw new Error("progress bar broke");
      } });
      const types = events.map((event) => event.type);
      expect(types.slice(0, 4)).toEqual(["miss", "hit", "hit", "stale"]);
      expect(events[1]).toEqual({ type: "hit", model: "User", tier: "l1", negative: false });
      expect(events).toContainEqual({ type: "invalidation", direction: "sent", models: ["User"], tags: [] });
      expect(events).toContainEqual({ type: "invalidation", direction: "received", models: ["User"], tags: [] });
      const error = events.find((event) => event.type === "error");
      expect((error as { error: CacheError } | undefined)?.error.code).toBe("E_WARM_PROGRESS");
      // An async onProgress that rejects is reported the same, not left unhandled (outside probe 283: the process exited 1).
      const reported = events.length;
      await c.prisma.$cache.warm({ onProgress: async () => Promise.reject(new Error("progress service down")) });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(events.slice(reported).filter((event) => event.type === "error").map((event) => (event as { error: CacheError }).error.message)).toContainEqual(expect.stringContaining("progress service down"));
      // Removing the listeners detaches the emitter from the counters again.
      for (const type of ["hit", "miss", "stale", "invalidation", "error"] as const) c.prisma.$cache.events.off(type, record);
      const count = events.length;
      await c.prisma.user.findUnique({ where: { id: user.id } });
      expect(events).toHaveLength(count);
    } finally {
      await c.close();
    }
  });

  it("a listener that throws or rejects is reported and stops nothing: an invalidation received is applied and acknowledged, hits and misses resolve (outside probe 267: an L1 served the old row 50 of 50 times; reads rejected)", async () => {
    const namespace = uniqueNamespace();
    const reports: CacheError[] = [];
    const a = createCachedClient({ namespace, onError: (error) => reports.push(error) });
    const b = createCachedClient({ namespace });
    try {
      const user = await seedUser(a.base);
      const events = a.prisma.$cache.events;
      for (const type of ["hit", "miss", "invalidation", "error"] as const) {
        events.on(type, () => {
          throw new Error(`${type} listener broke`);
        });
      }
      events.on("hit", () => Promise.reject(new Error("async hit listener broke")));
      // Thrown values that cannot be printed (outside probe 268: the report itself threw, and the invalidation went unapplied again).
      events.on("invalidation", () => {
        throw Object.create(null) as object;
      });
      events.on("hit", () => Promise.reject(Object.create(null) as object));
      events.on("miss", () => {
        throw Object.defineProperty({}, "message", {
          get() {
            throw new Error("no message");
          },
        });
      });
      const heard: string[] = [];
      events.on("invalidation", (event) => void heard.push(event.direction));
      // A miss, then an L1 hit taken with then(onFulfilled, onRejected), as a caller without await does.
      expect((await a.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe(user.name);
      const hit = await new Promise<{ name: string | null } | null>((resolve, reject) => void a.prisma.user.findUnique({ where: { id: user.id } }).then(resolve, reject));
      expect(hit?.name).toBe(user.name);
      expect(a.prisma.$cache.stats().l1Hits).toBe(1);
      // Another instance's write resolves once this one dropped the row: its next read is the new one, and no lease was waited out.
      await b.prisma.user.update({ where: { id: user.id }, data: { name: "after a broken listener" } });
      expect((await a.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("after a broken listener");
      expect(b.prisma.$cache.stats().invalidationAckTimeouts).toBe(0);
      expect(heard, "the listeners after the broken one still heard it").toContain("received");
      await new Promise((resolve) => setImmediate(resolve));
      const failed = reports.filter((error) => error.code === "E_LISTENER_FAILED").map((error) => error.message);
      for (const [event, message] of [["miss", "miss listener broke"], ["hit", "hit listener broke"], ["hit", "async hit listener broke"], ["invalidation", "invalidation listener broke"], ["error", "error listener broke"], ["invalidation", "cannot be printed"], ["hit", "cannot be printed"], ["miss", "cannot be printed"]]) {
        expect(failed.some((text) => text.includes(`"${event}" event`) && text.endsWith(message!)), `${event}: ${message}`).toBe(true);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("removeAllListeners() leaves the emitter working: listeners added afterwards hear hits and invalidations (outside probe 268: none did again)", async () => {
    const c = createCachedClient();
    try {
      const user = await seedUser(c.base);
      const events = c.prisma.$cache.events;
      events.on("hit", () => {});
      events.removeAllListeners();
      const heard: string[] = [];
      events.on("hit", (event) => void heard.push(event.type));
      events.on("invalidation", (event) => void heard.push(event.type));
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.user.update({ where: { id: user.id }, data: { name: "heard" } });
      expect(heard).toContain("hit");
      expect(heard).toContain("invalidation");
      // And once everything is removed again, the counters are detached: nothing is heard.
      events.removeAllListeners("hit");
      events.removeAllListeners("invalidation");
      const count = heard.length;
      await c.prisma.user.findUnique({ where: { id: user.id } });
      expect(heard).toHaveLength(count);
    } finally {
      await c.close();
    }
  });

  it("fires a low-hit-rate alert when a model's hit rate falls below the threshold, and clears it when it recovers", async () => {
    const c = createCachedClient({ lowHitRateAlert: { threshold: 0.5, window: 2, minRequests: 20 } });
    try {
      const alerts: CacheEvent[] = [];
      c.prisma.$cache.events.on("alert", (event) => alerts.push(event));
      const user = await seedUser(c.base);
      // Misses: 40 distinct queries, each read once.
      for (let i = 0; i < 40; i++) await c.prisma.user.findFirst({ where: { id: user.id, visits: { gte: BigInt(i) } } });
      for (let i = 0; i < 100 && alerts.length === 0; i++) await sleep(50);
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ type: "alert", alert: "lowHitRate", state: "firing", model: "User", threshold: 0.5, windowMs: 2000 });
      expect((alerts[0] as { hitRate: number }).hitRate).toBeLessThan(0.5);
      // Hits for more than a window: the rate recovers.
      const deadline = Date.now() + 10_000;
      while (alerts.length < 2 && Date.now() < deadline) {
        for (let i = 0; i < 20; i++) await c.prisma.user.findUnique({ where: { id: user.id } });
        await sleep(20);
      }
      expect(alerts).toHaveLength(2);
      expect(alerts[1]).toMatchObject({ state: "cleared", model: "User" });
      expect((alerts[1] as { hitRate: number }).hitRate).toBeGreaterThanOrEqual(0.5);
    } finally {
      await c.close();
    }
  });
});

describe("telemetry", () => {
  it("publishes each read on the read tracing channel", async () => {
    const namespace = uniqueNamespace();
    const c = createCachedClient({ namespace });
    const started: TraceContext[] = [];
    const ended: TraceContext[] = [];
    const channel = dc.tracingChannel<unknown, TraceContext>(TRACING_CHANNELS.read);
    const handlers = { start: (context: TraceContext) => void started.push(context), end: () => {}, asyncStart: () => {}, asyncEnd: (context: TraceContext) => void ended.push(context), error: () => {} };
    channel.subscribe(handlers);
    try {
      const user = await seedUser(c.base);
      const mine = (list: TraceContext[]) => list.filter((context) => context.namespace === namespace && context.model === "User");
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.user.findUnique({ where: { id: user.id } });
      expect(mine(started)).toHaveLength(2);
      expect(mine(ended)).toHaveLength(2);
      expect(mine(started)[0]).toMatchObject({ model: "User", operation: "findUnique", args: { where: { id: user.id } } });
    } finally {
      channel.unsubscribe(handlers);
      await c.close();
    }
  });

  it("reports OpenTelemetry metrics to the SDK the application registered", async () => {
    const namespace = uniqueNamespace();
    const c = createCachedClient({ namespace });
    try {
      const user = await seedUser(c.base);
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.$cache.drain();
      const { resourceMetrics } = await reader.collect();
      const all = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
      const requests = all.find((metric) => metric.descriptor.name === "prisma_cache_shield.requests");
      const points = (requests?.dataPoints ?? []) as Array<{ attributes: Record<string, unknown>; value: unknown }>;
      const hits = points.filter((point) => point.attributes.namespace === namespace && point.attributes.model === "User" && point.attributes.result === "hit");
      expect(hits.map((point) => point.value)).toEqual([1]);
      const loads = all.find((metric) => metric.descriptor.name === "prisma_cache_shield.load_duration");
      expect(loads?.descriptor.unit).toBe("ms");
      const loadPoints = (loads?.dataPoints ?? []) as Array<{ attributes: Record<string, unknown>; value: { count: number } }>;
      expect(loadPoints.find((point) => point.attributes.namespace === namespace)).toMatchObject({ attributes: { model: "User", operation: "findUnique" }, value: { count: 1 } });
    } finally {
      await c.close();
    }
  });

  it("reports two caches of one namespace in one process as two series, and keeps counters cumulative across resetStats()", async () => {
    const namespace = uniqueNamespace();
    const a = createCachedClient({ namespace });
    const b = createCachedClient({ namespace });
    const dbLoads = async () => {
      await Promise.all([a.prisma.$cache.drain(), b.prisma.$cache.drain()]);
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((each) => each.descriptor.name === "prisma_cache_shield.db_loads");
      const points = (metric?.dataPoints ?? []) as Array<{ attributes: Record<string, unknown>; value: number }>;
      return points.filter((point) => point.attributes.namespace === namespace).map((point) => point.value).sort();
    };
    try {
      const users = await Promise.all([seedUser(a.base), seedUser(a.base), seedUser(a.base)]);
      for (const user of users) await a.prisma.user.findUnique({ where: { id: user.id } });
      await b.prisma.user.findUnique({ where: { email: users[0]!.email } });
      // One series per cache (their own `instance`), so a backend's sum is the namespace's loads.
      expect(await dbLoads()).toEqual([1, 3]);
      a.prisma.$cache.resetStats();
      await a.prisma.user.findUnique({ where: { email: users[1]!.email } });
      expect(a.prisma.$cache.stats().dbLoads).toBe(1);
      expect(await dbLoads(), "a counter never goes down").toEqual([1, 4]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

/** A query-statistics recorder on its own, as the extension builds it. */
function recorder(redis: ReturnType<typeof createRedis>, namespace: string, fingerprint: string, maxQueries = 1_000): QueryStats {
  const codec = new Codec(prismaDecimal, { exact: false });
  return new QueryStats({
    store: new RedisStore(redis, 10_000),
    prefix: `{${namespace}}`,
    fingerprint,
    settings: { counting: true, maxQueries, halfLifeMs: 3_600_000, flushIntervalMs: 5_000 },
    encodeArgs: (args) => codec.encode(args),
    decodeArgs: (text) => codec.decode(text),
    report: (error) => {
      throw error;
    },
  });
}

/** The V8 garbage collector, for heap measurements that do not count garbage. */
function exposeGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}
