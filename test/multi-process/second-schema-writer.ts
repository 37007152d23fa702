// One app instance of the second test schema: its own PrismaClient and extension, sharing Redis
// with the test process. Runs the write in WRITE ({ model, operation, args }) and exits once it
// has resolved, i.e. once every instance acknowledged the invalidation.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient } from "../schemas/second/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";

const { model, operation, args } = JSON.parse(process.env.WRITE!) as { model: string; operation: string; args: unknown };
const redis = new Redis(process.env.REDIS_URL!);
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL! }) });
const models = { Person: true, Passport: true, Team: true, Player: true, Membership: true, Event: true, ActivePerson: { dependsOn: ["Person"] } };
const prisma = base.$extends(cacheExtension({ redis, namespace: process.env.NAMESPACE!, models, ackTimeout: 5_000, lease: { ttl: 5_000 } }));

const delegate = (prisma as unknown as Record<string, Record<string, (args: unknown) => Promise<unknown>>>)[model]!;
await delegate[operation]!(args);
const stats = prisma.$cache.stats();
await prisma.$cache.close();
await base.$disconnect();
redis.disconnect();
console.log(JSON.stringify({ ok: true, unacknowledged: stats.invalidationAckTimeouts }));
