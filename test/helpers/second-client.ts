// Clients of the second test schema (test/schemas/second): self-relations, a cycle, UUID and
// compound ids, CHAR/citext/Decimal/DateTime/Float uniques, @@map and a view. Mirrors ./client.ts.
import { randomUUID } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import type { Redis } from "ioredis";
import { expect } from "vitest";
import { PrismaClient } from "../schemas/second/generated/client.ts";
import { cacheExtension, type CacheExtensionOptions } from "../../src/index.ts";
import { createRedis, uniqueNamespace } from "./client.ts";
import { CountingPool } from "./counting-pool.ts";
import { secondDatabaseUrl } from "./databases.ts";

export type SecondBaseClient = PrismaClient;

/** Every table model of the second schema (the view `ActivePerson` needs `dependsOn`). */
export const SECOND_MODELS = { Person: true, Passport: true, Team: true, Player: true, Membership: true, Duty: true, Event: true, Ticket: true, Racer: true, Wallet: true } as const;

/** A plain Prisma client on the second schema's test database, with a pool that counts queries. */
export function createSecondBaseClient(): { base: PrismaClient; pool: CountingPool } {
  const pool = new CountingPool({ connectionString: secondDatabaseUrl(), max: 4 });
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
      await pool.end();
      if (options.redis === undefined) redis?.disconnect();
    },
  };
}

/** A person unique per call (code is 8 characters wide, stored padded). */
export function personData(overrides: Record<string, unknown> = {}) {
  const tag = randomUUID().slice(0, 6);
  return { code: `P${tag}`, email: `${tag}@Example.com`, name: `Person ${tag}`, ...overrides };
}

export type SecondCachedClient = ReturnType<typeof createSecondCachedClient>;
export type SecondPrisma = SecondCachedClient["prisma"];

/**
 * A writer and two readers sharing Redis, each with its own pool: one reader answers from its
 * L1, the other (`l1: false`) from Redis. `expectFresh` caches a read on both readers, writes on
 * the writer, and checks that both readers then return what plain Prisma returns.
 */
export function secondFleet(options: Partial<Omit<CacheExtensionOptions, "redis">> = {}) {
  const namespace = uniqueNamespace();
  // A loaded machine can take longer than the default 200 ms (ack timeout) or 1 s (lease) to
  // acknowledge: the test checks after every write that it was acknowledged, not resolved by the lease.
  const settings = { namespace, ackTimeout: 5_000, lease: { ttl: 5_000 }, ...options };
  const writer = createSecondCachedClient(settings);
  const viaL1 = createSecondCachedClient(settings);
  const viaRedis = createSecondCachedClient({ ...settings, l1: false });
  return {
    namespace,
    writer,
    viaL1,
    viaRedis,
    async expectFresh<T>(read: (prisma: SecondPrisma) => PromiseLike<T>, write: (prisma: SecondPrisma) => PromiseLike<unknown>): Promise<T> {
      for (const reader of [viaL1, viaRedis]) {
        await read(reader.prisma);
        const queries = reader.pool.queries;
        await read(reader.prisma);
        expect(reader.pool.queries, "the read is cached before the write").toBe(queries);
      }
      await write(writer.prisma);
      expect(writer.prisma.$cache.stats().invalidationAckTimeouts, "writes acknowledged by every instance").toBe(0);
      const expected = await read(writer.base as unknown as SecondPrisma);
      const [fromL1, fromRedis] = [await read(viaL1.prisma), await read(viaRedis.prisma)];
      expect(fromL1, "read from L1").toEqual(expected);
      expect(fromRedis, "read from Redis").toEqual(expected);
      return expected;
    },
    async close() {
      for (const client of [writer, viaL1, viaRedis]) await client.close();
    },
  };
}
