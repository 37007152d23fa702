// The writer of cut-off-writer.test.ts: its own PrismaClient and extension, reaching Redis only
// through the test's TCP proxy (REDIS_URL). Updates USER_ID's name to NAME (the test holds the
// row lock, cuts the proxy once the write is announced, then releases the lock), notes when the
// write resolved, closes, and prints what close() reported.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension, type CacheError, type UndeliveredInvalidationsError } from "../../src/index.ts";
import { machineNow } from "../helpers/machine-clock.ts";

const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
redis.on("error", () => {});
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL!, max: 2 }) });
const prisma = base.$extends(cacheExtension({ redis, namespace: process.env.NAMESPACE!, models: { User: true } }));
const id = Number(process.env.USER_ID);

await prisma.user.findUnique({ where: { id } });
await prisma.user.update({ where: { id }, data: { name: process.env.NAME! } });
const resolvedAt = machineNow();
const stats = prisma.$cache.stats();
const closing = await Promise.race([
  prisma.$cache.close().then(() => undefined, (error: CacheError) => error),
  new Promise<string>((resolve) => setTimeout(() => resolve("close() did not settle"), 15_000)),
]);
await base.$disconnect();
redis.disconnect();
const report = typeof closing === "object" ? { code: closing.code, models: (closing as UndeliveredInvalidationsError).models } : closing;
console.log(JSON.stringify({ resolvedAt, invalidationsQueued: stats.invalidationsQueued, unannouncedWrites: stats.unannouncedWrites, closing: report ?? null }));
process.exit(0);
