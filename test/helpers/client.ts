import { randomUUID } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { inject } from "vitest";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension, type CacheExtensionOptions } from "../../src/index.ts";
import { CountingPool } from "./counting-pool.ts";
import { databaseUrl } from "./databases.ts";

export type BaseClient = PrismaClient;

/** A plain Prisma client on the test database, with a pool that counts queries. */
export function createBaseClient(): { base: PrismaClient; pool: CountingPool } {
  const pool = new CountingPool({ connectionString: databaseUrl(), max: 4 });
  return { base: new PrismaClient({ adapter: new PrismaPg(pool) }), pool };
}

export function createRedis(): Redis {
  return new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1 });
}

/** A namespace no other test uses, so tests never see each other's keys. */
export function uniqueNamespace(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

/** An extended client plus the parts a test inspects; `close()` releases everything. */
export function createCachedClient(options: Partial<Omit<CacheExtensionOptions, "redis">> & { redis?: Redis | null } = {}) {
  const { base, pool } = createBaseClient();
  const redis = options.redis === null ? undefined : (options.redis ?? createRedis());
  const prisma = base.$extends(cacheExtension({ namespace: uniqueNamespace(), models: { User: true, Post: true, Tag: true, Comment: true }, ...options, redis }));
  return {
    base,
    pool,
    prisma,
    redis,
    async close() {
      await prisma.$cache.close();
      await base.$disconnect();
      if (options.redis === undefined) redis?.disconnect();
    },
  };
}
