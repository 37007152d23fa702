// One reading app instance of cut-off-writer.test.ts: its own PrismaClient, L1 and Redis
// connections. Reads the user USER_ID in a loop for DURATION_MS and prints every read as
// [started at (ms, wall clock), name], plus its cache counters.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";

const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL!, max: 2 }) });
const prisma = base.$extends(cacheExtension({ redis, namespace: process.env.NAMESPACE!, models: { User: true } }));
const id = Number(process.env.USER_ID);
const until = Date.now() + Number(process.env.DURATION_MS);

const samples: Array<[number, string | null]> = [];
while (Date.now() < until) {
  const started = Date.now();
  const user = await prisma.user.findUnique({ where: { id } });
  samples.push([started, user?.name ?? null]);
  await new Promise((resolve) => setTimeout(resolve, 2));
}
const stats = prisma.$cache.stats();
await prisma.$cache.close();
await base.$disconnect();
redis.disconnect();
console.log(JSON.stringify({ samples, l1Hits: stats.l1Hits, bypasses: stats.bypasses }));
