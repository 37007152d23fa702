// One app instance hammering one key: READS reads of the same user, on a model whose L1 is off,
// so only hot-key handling keeps the reads out of Redis.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";

const env = (name: string) => process.env[name] ?? "";
const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 2 });
const redis = new Redis(env("REDIS_URL"));
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const prisma = base.$extends(
  cacheExtension({
    redis,
    namespace: env("NAMESPACE"),
    models: { User: { l1: false } },
    l1: { maxTtl: Number(env("L1_MAX_TTL")) },
    hotKeys: { threshold: 200, window: 10, replicas: 3 },
  }),
);
await base.$connect();
await redis.ping();
const id = Number(env("USER_ID"));
let wrong = 0;
for (let i = 0; i < Number(env("READS")); i++) {
  if ((await prisma.user.findUnique({ where: { id } }))?.id !== id) wrong++;
  // Let time pass, so L1 entries of the hot key expire and are fetched again now and then.
  if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
}
const stats = prisma.$cache.stats();
await prisma.$cache.close();
await base.$disconnect();
await pool.end();
redis.disconnect();
console.log(JSON.stringify({ wrong, l1Hits: stats.l1Hits, l2Hits: stats.l2Hits, dbLoads: stats.dbLoads, replicaReads: stats.replicaReads, hot: stats.hotKeys[0] }));
