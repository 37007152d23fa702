// One instance of the Accelerate app in its own process. It caches two tagged reads, says so in
// Redis (`<namespace>:test:ready`), waits for the test's go (`<namespace>:test:go`, set once the
// other instance invalidated a tag and wrote a record), reads both again and prints what it saw.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { accelerateApp, extendClient } from "../fixtures/accelerate-app.ts";
import { CountingPool } from "../helpers/counting-pool.ts";

const namespace = process.env.NAMESPACE!;
const userId = Number(process.env.USER_ID);
const pool = new CountingPool({ connectionString: process.env.DATABASE_URL, max: 2 });
const redis = new Redis(process.env.REDIS_URL!);
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
const prisma = extendClient(base, { redis, namespace });
const app = accelerateApp(prisma);

const statuses = async () => {
  const [alice, user] = [await app.emailsWithAliceInfo(), await app.userByIdInfo(userId)];
  return { alice: `${alice.info.cacheStatus}/${alice.info.tier}`, user: `${user.info.cacheStatus}/${user.info.tier}`, name: user.data?.name };
};

const before = [await statuses(), await statuses()];
await redis.set(`${namespace}:test:ready`, "1");
for (let waited = 0; (await redis.get(`${namespace}:test:go`)) === null; waited += 20) {
  if (waited > 30_000) throw new Error("no go from the test within 30 s");
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const after = await statuses();
await prisma.$cache.close();
await base.$disconnect();
redis.disconnect();
console.log(JSON.stringify({ before, after }));
