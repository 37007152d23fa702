// One instance of the Accelerate app in its own process. It caches two tagged reads, then reads
// them again after each step of the test (a tag invalidated, then a record written, by the other
// instance), handing over through Redis keys, and prints what it saw.
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

/** Says `ready:<step>` and waits for the test's `go:<step>`. */
async function handOver(step: number): Promise<void> {
  await redis.set(`${namespace}:test:ready:${step}`, "1");
  for (let waited = 0; (await redis.get(`${namespace}:test:go:${step}`)) === null; waited += 20) {
    if (waited > 30_000) throw new Error(`no go ${step} from the test within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const before = [await statuses()];
// Redis stores land in the background: read until both are served from the cache.
for (let tries = 0; tries < 100 && !(before.at(-1)!.alice.startsWith("ttl") && before.at(-1)!.user.startsWith("ttl")); tries++) {
  if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  before.push(await statuses());
}
await handOver(1);
const afterInvalidate = await statuses();
await handOver(2);
const afterWrite = await statuses();
await prisma.$cache.close();
await base.$disconnect();
// The pool is ours, not the adapter's: $disconnect() leaves it open, and its idle connections would keep
// this process alive for pg's idleTimeoutMillis (10 s) after its result is printed.
await pool.end();
redis.disconnect();
console.log(JSON.stringify({ before, afterInvalidate, afterWrite }));
