// One reading app instance of cut-off-writer.test.ts and abandoned-write.test.ts: its own PrismaClient, L1 and Redis
// connections. Reads the user USER_ID in a loop for DURATION_MS and prints every read as
// [started at (ms, the machine's monotonic clock), name], plus its cache counters. SUB_DELAY_MS puts its
// invalidation subscription behind a slow link (its commands stay fast): it learns of other
// instances' writes that much later, which only the writers' acknowledgement wait covers.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { routeCacheConnections } from "../helpers/connection-routes.ts";

const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
const SUB_DELAY_MS = Number(process.env.SUB_DELAY_MS ?? 0);
const proxy = SUB_DELAY_MS > 0 ? await delayingProxy(process.env.REDIS_URL!, SUB_DELAY_MS) : undefined;
if (proxy !== undefined) routeCacheConnections(redis, { subscriber: { host: "127.0.0.1", port: proxy.port } });
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL!, max: 2 }) });
const prisma = base.$extends(cacheExtension({ redis, namespace: process.env.NAMESPACE!, models: { User: true } }));
const id = Number(process.env.USER_ID);
const until = Date.now() + Number(process.env.DURATION_MS);

const samples: Array<[number, string | null]> = [];
while (Date.now() < until) {
  const started = machineNow();
  const user = await prisma.user.findUnique({ where: { id } });
  samples.push([started, user?.name ?? null]);
  await new Promise((resolve) => setTimeout(resolve, 2));
}
const stats = prisma.$cache.stats();
await prisma.$cache.close();
await base.$disconnect();
redis.disconnect();
proxy?.close();
console.log(JSON.stringify({ samples, l1Hits: stats.l1Hits, bypasses: stats.bypasses, abandonedWrites: stats.abandonedWrites }));
