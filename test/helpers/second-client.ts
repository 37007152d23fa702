// Clients of the second test schema (test/schemas/second): self-relations, a cycle, UUID and
// compound ids, CHAR/citext/Decimal/DateTime uniques, @@map and a view. Mirrors ./client.ts.
import { randomUUID } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import type { Redis } from "ioredis";
import { inject } from "vitest";
import { PrismaClient } from "../schemas/second/generated/client.ts";
import { cacheExtension, type CacheExtensionOptions } from "../../src/index.ts";
import { createRedis, uniqueNamespace } from "./client.ts";
import { CountingPool } from "./counting-pool.ts";

export type SecondBaseClient = PrismaClient;

/** Every table model of the second schema (the view `ActivePerson` needs `dependsOn`). */
export const SECOND_MODELS = { Person: true, Passport: true, Team: true, Player: true, Membership: true, Event: true } as const;

/** A plain Prisma client on the second schema's test database, with a pool that counts queries. */
export function createSecondBaseClient(): { base: PrismaClient; pool: CountingPool } {
  const pool = new CountingPool({ connectionString: inject("secondDatabaseUrl"), max: 4 });
  return { base: new PrismaClient({ adapter: new PrismaPg(pool) }), pool };
}

/** An extended client of the second schema plus the parts a test inspects; `close()` releases everything. */
export function createSecondCachedClient(options: Partial<Omit<CacheExtensionOptions, "redis">> & { redis?: Redis | null } = {}) {
  const { base, pool } = createSecondBaseClient();
  const redis = options.redis === null ? undefined : (options.redis ?? createRedis());
  const prisma = base.$extends(cacheExtension({ namespace: uniqueNamespace(), models: SECOND_MODELS, ...options, redis }));
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

/** A person unique per call (code is 8 characters wide, stored padded). */
export function personData(overrides: Record<string, unknown> = {}) {
  const tag = randomUUID().slice(0, 6);
  return { code: `P${tag}`, email: `${tag}@Example.com`, name: `Person ${tag}`, ...overrides };
}
