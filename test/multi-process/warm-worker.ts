// One instance starting up at a deploy: waits at a barrier shared through Redis so that every
// instance warms at the same moment, runs $cache.warm() against a slowed database and reports
// how many statements it sent.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";

const env = (name: string) => process.env[name] ?? "";
const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 4 });
pool.delayMs = Number(env("DELAY_MS"));
const redis = new Redis(env("REDIS_URL"));
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const prisma = base.$extends(cacheExtension({ redis, namespace: env("NAMESPACE"), models: { User: true, Post: true } }));

// Connect before the barrier so connection set-up is not part of the warm-up.
await base.$connect();
await redis.ping();
const barrier = `${env("NAMESPACE")}:barrier`;
await redis.incr(barrier);
while (Number(await redis.get(barrier)) < Number(env("INSTANCES"))) await new Promise((resolve) => setTimeout(resolve, 5));

let progressCalls = 0;
const result = await prisma.$cache.warm({ top: Number(env("TOP")), concurrency: 4, onProgress: () => progressCalls++ });
const stats = prisma.$cache.stats();
await prisma.$cache.close();
await base.$disconnect();
// The pool is ours, not the adapter's: $disconnect() leaves it open, and its idle connections would keep
// this process alive for pg's idleTimeoutMillis (10 s) after its result is printed.
await pool.end();
redis.disconnect();
console.log(JSON.stringify({ queries: pool.queries, ...result, progressCalls, dbLoads: stats.dbLoads, lockWaits: stats.lockWaits, l2Hits: stats.l2Hits }));
