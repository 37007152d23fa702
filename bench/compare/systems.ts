// The four systems bench:compare runs side by side, each built the same way: its own PrismaClient
// on a counting pool of the same size, its own ioredis connection (to its own logical Redis
// database, so one system's keys never lengthen another's SCAN) and nothing shared in process.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaExtensionRedis } from "prisma-extension-redis";
import superjson from "superjson";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { countingPool, type StatementCounter } from "../lib/counting-pg.ts";

export type SystemId = "plain" | "per" | "perSuperjson" | "shield";

export const SYSTEM_IDS: readonly SystemId[] = ["plain", "per", "perSuperjson", "shield"];

export const SYSTEM_LABELS: Record<SystemId, string> = {
  plain: "Plain Prisma",
  per: "prisma-extension-redis",
  perSuperjson: "prisma-extension-redis + superjson",
  shield: "prisma-cache-shield",
};

/** How each system is configured, for the report. */
export const SYSTEM_CONFIGS: Record<SystemId, string> = {
  plain: "`new PrismaClient({ adapter: new PrismaPg(pool) })`, pool of 10 connections (as every system)",
  per:
    "v5.0.0, its README's quick start: `config: { ttl: 60, stale: 30, type: 'STRING', auto: { invalidateOnWrite: true, ttl: 60, stale: 30 } }` " +
    "(`type: 'STRING'` since the Redis here has no RedisJSON module); values through `JSON.stringify`/`JSON.parse`, so `createdAt` comes back as a string",
  perSuperjson: "the same, plus `transformer: { serialize: superjson.stringify, deserialize: superjson.parse }` (types preserved: its best case)",
  shield: "`cacheExtension({ redis, namespace, ttl: 60, swr: 30, models: { Post: { bloom: true } } })`; every other option at its default",
};

/** The Redis logical database each system uses (the peer's two configurations also get distinct key prefixes). */
const REDIS_DB: Record<SystemId, number> = { plain: 0, per: 1, perSuperjson: 2, shield: 3 };

export interface BenchPost {
  id: number;
  version: number;
}

/** The operations the workloads need, identical in shape for every system. */
export interface SystemClient {
  id: SystemId;
  findPost(id: number): Promise<BenchPost | null>;
  bumpPost(id: number): Promise<BenchPost>;
  statements: StatementCounter;
  /** prisma-cache-shield's own counters (`$cache.stats()`), for diagnosis; undefined for the others. */
  cacheStats(): Record<string, unknown> | undefined;
  /** Work to do once before measuring (the Bloom filter of prisma-cache-shield). */
  prepare(): Promise<void>;
  close(): Promise<void>;
}

/** Builds one system on `databaseUrl` and the Redis server at `redisUrl` (no database index in it). */
export function createSystem(id: SystemId, databaseUrl: string, redisUrl: string, namespace: string): SystemClient {
  const { pool, counter } = countingPool(databaseUrl, 10);
  const base = new PrismaClient({ adapter: new PrismaPg(pool) });
  const redis = id === "plain" ? undefined : new Redis(`${redisUrl}/${REDIS_DB[id]}`, { maxRetriesPerRequest: 1 });
  const shield = id === "shield" && redis ? extendShield(base, redis, namespace) : undefined;
  const client = (shield ?? (redis ? extendPeer(base, redis, id === "perSuperjson") : base)) as unknown as PostDelegateHolder;
  return {
    id,
    findPost: (postId) => client.post.findUnique({ where: { id: postId } }),
    bumpPost: (postId) => client.post.update({ where: { id: postId }, data: { version: { increment: 1 } } }),
    statements: counter,
    cacheStats: () => shield?.$cache.stats() as Record<string, unknown> | undefined,
    prepare: async () => {
      await shield?.$cache.prepareBloom();
    },
    close: async () => {
      await shield?.$cache.close();
      await base.$disconnect();
      await pool.end(); // the adapter does not end a pool it was given
      redis?.disconnect();
    },
  };
}

type Base = PrismaClient;

/** The two calls the workloads make, typed once for all four (differently typed) clients. */
interface PostDelegateHolder {
  post: {
    findUnique(args: { where: { id: number } }): Promise<BenchPost | null>;
    update(args: { where: { id: number }; data: { version: { increment: number } } }): Promise<BenchPost>;
  };
}

function extendShield(base: Base, redis: Redis, namespace: string) {
  return base.$extends(cacheExtension({ redis, namespace, ttl: 60, swr: 30, models: { Post: { bloom: true } } }));
}

function extendPeer(base: Base, redis: Redis, typed: boolean) {
  const transformer = typed ? { serialize: (data: unknown) => superjson.stringify(data), deserialize: (data: unknown) => superjson.parse(data as string) } : undefined;
  return base.$extends(
    PrismaExtensionRedis({
      config: {
        ttl: 60,
        stale: 30,
        type: "STRING",
        auto: { invalidateOnWrite: true, ttl: 60, stale: 30 },
        cacheKey: { prefix: typed ? "prisma_sj" : "prisma" },
        ...(transformer ? { transformer } : {}),
      },
      client: redis,
    }),
  );
}
