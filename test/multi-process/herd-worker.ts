// One app instance in a thundering herd: waits at a barrier shared through Redis, then fires
// READS concurrent reads of one cold key against a slowed database and reports what it saw.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";

const env = (name: string) => process.env[name] ?? "";
const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 4 });
pool.delayMs = Number(env("DELAY_MS"));
// CONNECTION_NAME: the test finds this process's connections (the cache's subscriber among them) by it.
const redis = new Redis(env("REDIS_URL"), env("CONNECTION_NAME") === "" ? {} : { connectionName: env("CONNECTION_NAME") });
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const prisma = base.$extends(cacheExtension({ redis, namespace: env("NAMESPACE"), lockTtl: Number(env("LOCK_TTL") || 5000), models: { Post: true } }));

// Connect before the barrier so connection set-up is not part of the herd. warm() resolves once the
// cache's own connection answered (nothing recorded to replay yet): a service reports ready after it.
await base.$connect();
await redis.ping();
await prisma.$cache.warm();
// Served another entry of the model from Redis first (stored by the test): the process then knows entries of it, not how long its loads take.
if (env("PRE_READ_POST_ID") !== "") await prisma.post.findUnique({ where: { id: Number(env("PRE_READ_POST_ID")) } });
// WARM_LOAD_MS: load the model once, fast (an absent id), then idle this long: the process then knows
// a fast load of the model, a memory that fades within seconds, and the herd's load is slow.
if (env("WARM_LOAD_MS") !== "") {
  const delayMs = pool.delayMs;
  pool.delayMs = 0;
  await prisma.post.findUnique({ where: { id: -1 - Math.floor(Math.random() * 1e9) } });
  pool.delayMs = delayMs;
  pool.queries = 0;
  await new Promise((resolve) => setTimeout(resolve, Number(env("WARM_LOAD_MS"))));
}
const barrier = `${env("NAMESPACE")}:barrier`;
await redis.incr(barrier);
while (Number(await redis.get(barrier)) < Number(env("INSTANCES"))) await new Promise((resolve) => setTimeout(resolve, 5));

const authorId = Number(env("AUTHOR_ID"));
const latencies: number[] = [];
const results = await Promise.all(
  Array.from({ length: Number(env("READS")) }, async () => {
    const started = performance.now();
    const post = await prisma.post.findFirst({ where: { authorId }, orderBy: { id: "asc" } });
    latencies.push(performance.now() - started);
    return post?.id;
  }),
);
const stats = prisma.$cache.stats();
await prisma.$cache.close();
await base.$disconnect();
// The pool is ours, not the adapter's: $disconnect() leaves it open, and its idle connections would keep
// this process alive for pg's idleTimeoutMillis (10 s) after its result is printed.
await pool.end();
redis.disconnect();
latencies.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    queries: pool.queries,
    correct: results.filter((id) => id === Number(env("EXPECTED_POST_ID"))).length,
    p50: latencies[Math.floor(latencies.length / 2)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    dbLoads: stats.dbLoads,
    lockAcquisitions: stats.lockAcquisitions,
    lockWaits: stats.lockWaits,
    lockWaitTimeouts: stats.lockWaitTimeouts,
    coalesced: stats.coalesced,
  }),
);
