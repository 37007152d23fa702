// The writer of abandoned-write.test.ts: its own PrismaClient and extension, reaching Redis only
// through the test's TCP proxy (REDIS_URL). Updates the user with EMAIL — by its email, so the
// announcement cannot name the row's id — to NAME. The test holds the row lock, cuts the proxy,
// lets the write commit, and kills this process before its confirmation can reach Redis.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";

const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
redis.on("error", () => {});
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL!, max: 2 }) });
const prisma = base.$extends(cacheExtension({ redis, namespace: process.env.NAMESPACE!, models: { User: true } }));

await prisma.user.findUnique({ where: { email: process.env.EMAIL! } });
console.log("ready");
await prisma.user.update({ where: { email: process.env.EMAIL! }, data: { name: process.env.NAME! } });
console.log(JSON.stringify({ resolved: true }));
process.exit(0);
