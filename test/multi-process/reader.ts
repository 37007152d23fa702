// One app instance: its own PrismaClient and extension, sharing Redis with the test process.
// Reads the user whose id is in USER_ID and prints what it saw and how many queries it sent.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";

const pool = new CountingPool({ connectionString: process.env.DATABASE_URL, max: 2 });
const redis = new Redis(process.env.REDIS_URL!);
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
// A generous redisTimeout: a child started on a busy machine must not bypass Redis for a slow reply (which
// the default 250 ms allows), or the test could not tell that from a key it derived differently.
const prisma = base.$extends(cacheExtension({ redis, namespace: process.env.NAMESPACE!, redisTimeout: 5_000, models: { User: true, Post: true } }));

const user = await prisma.user.findUnique({ where: { id: Number(process.env.USER_ID) }, include: { posts: { orderBy: { id: "asc" } } } });
const stats = prisma.$cache.stats();
await prisma.$cache.close();
await base.$disconnect();
// The pool is ours, not the adapter's: $disconnect() leaves it open, and its idle connections would keep
// this process alive for pg's idleTimeoutMillis (10 s) after its result is printed.
await pool.end();
redis.disconnect();
console.log(JSON.stringify({ queries: pool.queries, l2Hits: stats.l2Hits, email: user?.email, posts: user?.posts.length, balance: user?.balance.toFixed(6), visits: String(user?.visits) }));
