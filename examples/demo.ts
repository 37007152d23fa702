// `npm run demo`: the same concurrent read traffic against Prisma without and with the cache,
// on whatever is at hand: DATABASE_URL or an embedded PGlite, REDIS_URL or the in-process tier only.
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient, type Prisma } from "../prisma/generated/client.ts";
import { cacheExtension, type CacheControl, type CacheExtensionOptions } from "../src/index.ts";
import { CountingPool } from "./demo/counting-pool.ts";
import { openDatabase } from "./demo/database.ts";
import { showInvalidation } from "./demo/invalidation.ts";
import { printReport, type CacheCounts, type Measured } from "./demo/report.ts";
import { seed, unseed, USERS } from "./demo/seed.ts";
import { planTraffic, runTraffic, REQUESTS_PER_WORKER, WORKERS, type Plan, type Reader } from "./demo/traffic.ts";

// Tags this run's rows and cache keys, so runs sharing a database or a Redis never see each other's.
const tag = `demo-${randomUUID().slice(0, 8)}`;

const database = await openDatabase();
const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;
// No idle timeout: against PGlite a closed connection may still hold the server's only slot
// when the pool opens the next one.
const pool = new CountingPool({ connectionString: database.url, max: database.maxConnections, idleTimeoutMillis: 0 });
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
// Typed with the client's model names: a misspelt model is a compile error.
const options: CacheExtensionOptions<Prisma.ModelName> = { redis, namespace: tag, models: { User: { ttl: 30 }, Post: true } };
const prisma = base.$extends(cacheExtension<Prisma.ModelName>(options));
// With Redis the warm run goes through a second extended client, as a freshly started replica
// would: its L1 is empty, so it shows what the shared tier saves. Without Redis it is a rerun.
const warm = redis ? base.$extends(cacheExtension<Prisma.ModelName>(options)) : prisma;

try {
  console.log(`Node ${process.version}`);
  console.log(`database: ${database.label}`);
  console.log(`cache:    ${redis ? `L1 in-process + L2 Redis (${process.env.REDIS_URL})` : "L1 in-process only (set REDIS_URL to add Redis)"}`);
  const userIds = await seed(base, tag);
  const plan = planTraffic(userIds);
  console.log(`traffic:  ${WORKERS} concurrent workers x ${REQUESTS_PER_WORKER} reads over ${USERS} seeded users (Zipf popularity;`);
  console.log(`          60% user.findUnique, 30% post.findMany, 10% post.count), the same requests in every run\n`);

  // Connects and lets Prisma prepare each query shape, so no run pays for that.
  await runTraffic(base, plan.slice(0, 1).map((requests) => requests.slice(0, 20)));
  printReport([
    await measure("no cache", base, plan),
    await measure("cache, cold", prisma, plan, prisma.$cache),
    await measure(redis ? "cache, warm (2nd client)" : "cache, warm", warm, plan, warm.$cache),
  ]);

  const id = userIds[0]!;
  const same = isDeepStrictEqual(await prisma.user.findUnique({ where: { id } }), await base.user.findUnique({ where: { id } }));
  console.log(`\ncached User ${id} (Decimal, BigInt, Json, Bytes, DateTime) deep-equals the database row: ${same}`);
  await showInvalidation(prisma, redis ? warm : undefined, pool, id);
} finally {
  await unseed(base, tag);
  await prisma.$cache.close();
  await warm.$cache.close();
  await base.$disconnect();
  await pool.end();
  await redis?.quit();
  await database.close();
}

async function measure(title: string, db: Reader, plan: Plan, cache?: CacheControl): Promise<Measured> {
  const queriesBefore = pool.queries;
  const statsBefore = cache?.stats();
  const run = await runTraffic(db, plan);
  const dbQueries = pool.queries - queriesBefore;
  return cache && statsBefore ? { title, run, dbQueries, cache: countsSince(statsBefore, cache.stats()) } : { title, run, dbQueries };
}

function countsSince(before: CacheCounts, after: CacheCounts): CacheCounts {
  return {
    hits: after.hits - before.hits,
    misses: after.misses - before.misses,
    l1Hits: after.l1Hits - before.l1Hits,
    l2Hits: after.l2Hits - before.l2Hits,
    coalesced: after.coalesced - before.coalesced,
    dbLoads: after.dbLoads - before.dbLoads,
  };
}
