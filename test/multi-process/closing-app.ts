// An app that extends a client, uses it or not (USE=1), closes the cache, disconnects Prisma and
// quits its Redis client, then reports what still keeps its event loop alive: nothing should.
// SENTINEL_PORT / SENTINEL_NAME: the app finds its Redis through a sentinel instead of REDIS_URL;
// CLUSTER_PORT: it uses a Redis Cluster, starting from that node.
import { PrismaPg } from "@prisma/adapter-pg";
import { Cluster, Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";

const sentinel = process.env.SENTINEL_PORT === undefined ? undefined : { sentinels: [{ host: "127.0.0.1", port: Number(process.env.SENTINEL_PORT) }], name: process.env.SENTINEL_NAME! };
const redis =
  process.env.CLUSTER_PORT !== undefined
    ? new Cluster([{ host: "127.0.0.1", port: Number(process.env.CLUSTER_PORT) }])
    : sentinel === undefined
      ? new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 })
      : new Redis({ ...sentinel, maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL! }) });
const prisma = base.$extends(cacheExtension({ redis: redis as Redis, namespace: process.env.NAMESPACE!, models: { User: true } }));
if (process.env.USE === "1") {
  const user = await prisma.user.create({ data: { email: `${process.env.NAMESPACE}@example.com`, name: "closing" } });
  await prisma.user.findUnique({ where: { id: user.id } });
  await prisma.user.update({ where: { id: user.id }, data: { name: "closed" } });
}
await prisma.$cache.close();
await base.$disconnect();
await redis.quit();

// Sockets close a moment after QUIT is answered; what is left after that must not hold the process.
const alive = () => process.getActiveResourcesInfo().filter((resource) => resource !== "PipeWrap" && resource !== "TTYWrap");
for (let i = 0; i < 30 && alive().some((resource) => resource !== "Timeout"); i++) await new Promise((resolve) => setTimeout(resolve, 100));
console.log(JSON.stringify({ alive: alive() }));
