import { describe, expectTypeOf, it } from "vitest";
import type { Post, Prisma, PrismaClient, User } from "../../prisma/generated/client.ts";
import { cacheExtension, type CacheEvent, type CacheStats, type HitEvent, type LowHitRateEvent, type TopQuery, type WarmProgress, type WarmResult } from "../../src/index.ts";

declare const base: PrismaClient;
const prisma = base.$extends(cacheExtension({ models: { User: true, Post: true } }));

describe("the extended client keeps Prisma's types", () => {
  it("accepts the cache argument on every cached operation", () => {
    expectTypeOf(prisma.user.findUnique({ where: { id: 1 }, cache: { ttl: 10 } })).resolves.toEqualTypeOf<User | null>();
    expectTypeOf(prisma.user.findUniqueOrThrow({ where: { id: 1 }, cache: false })).resolves.toEqualTypeOf<User>();
    expectTypeOf(prisma.user.findFirst({ cache: { swr: 5 } })).resolves.toEqualTypeOf<User | null>();
    expectTypeOf(prisma.user.findFirstOrThrow({ cache: false })).resolves.toEqualTypeOf<User>();
    expectTypeOf(prisma.user.findMany({ cache: { ttl: 10 } })).resolves.toEqualTypeOf<User[]>();
    expectTypeOf(prisma.user.count({ cache: false })).resolves.toEqualTypeOf<number>();
  });

  it("keeps select and include shapes, with no any leaking into results", async () => {
    const picked = await prisma.user.findUnique({ where: { id: 1 }, select: { email: true, balance: true, _count: { select: { posts: true } } }, cache: { ttl: 1 } });
    expectTypeOf(picked).not.toBeAny();
    expectTypeOf(picked).toEqualTypeOf<{ email: string; balance: Prisma.Decimal; _count: { posts: number } } | null>();
    const withPosts = await prisma.user.findMany({ include: { posts: true } });
    expectTypeOf(withPosts[0]!.posts[0]!.title).toEqualTypeOf<string>();
    const sums = await prisma.user.aggregate({ _sum: { visits: true }, cache: { ttl: 5 } });
    expectTypeOf(sums._sum.visits).toEqualTypeOf<bigint | null>();
    const groups = await prisma.user.groupBy({ by: ["role"], _count: { _all: true } });
    expectTypeOf(groups[0]!.role).toEqualTypeOf<"USER" | "ADMIN">();
  });

  it("rejects malformed cache arguments at compile time", () => {
    // @ts-expect-error ttl is a number of seconds
    void prisma.user.findMany({ cache: { ttl: "10" } });
    // @ts-expect-error unknown cache option
    void prisma.user.findMany({ cache: { tll: 10 } });
    // @ts-expect-error `cache: true` is not an option: caching is on unless `false`
    void prisma.user.findMany({ cache: true });
  });

  it("exposes $cache", () => {
    expectTypeOf(prisma.$cache.stats()).toEqualTypeOf<CacheStats>();
    expectTypeOf(prisma.$cache.close()).toEqualTypeOf<Promise<void>>();
  });

  it("types warm(), top queries and events", () => {
    expectTypeOf(prisma.$cache.warm({ top: 10, onProgress: (progress) => expectTypeOf(progress).toEqualTypeOf<WarmProgress>() })).resolves.toEqualTypeOf<WarmResult>();
    expectTypeOf(prisma.$cache.topQueries()).resolves.toEqualTypeOf<TopQuery[]>();
    expectTypeOf(prisma.$cache.resetStats()).toEqualTypeOf<void>();
    prisma.$cache.events.on("hit", (event) => expectTypeOf(event).toEqualTypeOf<HitEvent>());
    prisma.$cache.events.on("alert", (event) => expectTypeOf(event).toEqualTypeOf<LowHitRateEvent>());
    expectTypeOf<HitEvent>().toMatchTypeOf<CacheEvent>();
    // @ts-expect-error no such event
    prisma.$cache.events.on("hti", () => {});
    // @ts-expect-error top is a number of queries
    void prisma.$cache.warm({ top: "10" });
  });

  it("leaves writes and transactions typed as before", async () => {
    expectTypeOf(prisma.user.create({ data: { email: "x" } })).resolves.toEqualTypeOf<User>();
    const [a, b] = await prisma.$transaction([prisma.user.findUnique({ where: { id: 1 } }), prisma.user.count()]);
    expectTypeOf(a).toEqualTypeOf<User | null>();
    expectTypeOf(b).toEqualTypeOf<number>();
  });
});

describe("options as applications write them", () => {
  it("takes a Redis Cluster, and undefined for any optional option (exactOptionalPropertyTypes)", () => {
    const cluster = {} as import("ioredis").Cluster;
    cacheExtension({ redis: cluster, models: { User: true } });
    // ioredis 6 (what `npm install ioredis` gives now; a dev dependency under the name ioredis6) types a
    // Cluster's duplicate() exactly: its startup nodes as ClusterNode[], its options generic. A looser
    // parameter type refused it (outside probe 247's follow-up).
    cacheExtension({ redis: {} as import("ioredis6").Cluster, models: { User: true } });
    cacheExtension({ redis: {} as import("ioredis6").Redis, models: { User: true } });
    const maybeRedis = undefined as import("ioredis").Redis | undefined;
    cacheExtension({ redis: maybeRedis, namespace: undefined, ttl: undefined, models: { User: { ttl: undefined }, Post: undefined } });
  });
});

describe("the fluent API", () => {
  it("types relation methods on single-record reads", () => {
    expectTypeOf(prisma.user.findUnique({ where: { id: 1 } }).posts()).resolves.toEqualTypeOf<Post[] | null>();
    expectTypeOf(prisma.user.findUnique({ where: { id: 1 } }).posts({ where: { published: true }, orderBy: { id: "asc" } })).resolves.toEqualTypeOf<Post[] | null>();
    expectTypeOf(prisma.post.findFirst({ where: { id: 1 } }).author()).resolves.toEqualTypeOf<User | null>();
    expectTypeOf(prisma.post.findFirst({ where: { id: 1 } }).author({ select: { email: true } })).resolves.toEqualTypeOf<{ email: string } | null>();
    // After an *OrThrow read the record exists: its relations are not nullable (as plain Prisma types them).
    expectTypeOf(prisma.user.findUniqueOrThrow({ where: { id: 1 } }).posts()).resolves.toEqualTypeOf<Post[]>();
    expectTypeOf(prisma.post.findFirstOrThrow({ where: { id: 1 } }).author()).resolves.toEqualTypeOf<User>();
  });
});

describe("model names, checked against the client's Prisma.ModelName", () => {
  const typed = base.$extends(cacheExtension<Prisma.ModelName>({ models: { User: true, Post: { ttl: 30 } } }));

  it("rejects a misspelt model in the options", () => {
    // @ts-expect-error no model "Prodct"
    cacheExtension<Prisma.ModelName>({ models: { Prodct: true } });
    // @ts-expect-error no model "Usr" in dependsOn
    cacheExtension<Prisma.ModelName>({ models: { User: { dependsOn: ["Usr"] } } });
    cacheExtension<Prisma.ModelName>({ models: { User: { dependsOn: ["Post"] as const } } });
    cacheExtension<Prisma.ModelName>({ models: { Comment: { ttl: 5 }, Tag: true } });
    // A model left out of the cache, with what changes its rows.
    cacheExtension<Prisma.ModelName>({ models: { User: true, Post: { cache: false, dependsOn: ["Tag"] } } });
    // @ts-expect-error no model "Tags" in an uncached model's dependsOn
    cacheExtension<Prisma.ModelName>({ models: { Post: { cache: false, dependsOn: ["Tags"] } } });
    // @ts-expect-error an uncached model takes no ttl
    cacheExtension<Prisma.ModelName>({ models: { Post: { cache: false, dependsOn: ["Tag"], ttl: 5 } } });
  });

  it("rejects unknown models in $cache methods, and accepts every model of the schema (cached or not)", () => {
    // @ts-expect-error no model "Nope"
    void typed.$cache.invalidate({ model: "Nope" });
    // @ts-expect-error no model "Usr"
    void typed.$cache.invalidate({ models: ["User", "Usr"] });
    // @ts-expect-error names nothing to invalidate (a CacheArgumentError at run time)
    void typed.$cache.invalidate({});
    void typed.$cache.invalidate({ tags: ["a"], model: undefined });
    // @ts-expect-error no model "Nope"
    void typed.$cache.topQueries({ model: "Nope" });
    // @ts-expect-error no model "Nope"
    void typed.$cache.rebuildBloom("Nope");
    // @ts-expect-error no model "Nope"
    void typed.$cache.raw(["Nope"], Promise.resolve(1));
    expectTypeOf(typed.$cache.invalidate({ model: "Comment" })).toEqualTypeOf<Promise<void>>();
    expectTypeOf(typed.$cache.invalidate({ models: ["User", "Tag"], tags: ["any"] })).toEqualTypeOf<Promise<void>>();
  });

  it("names are not inferred from `models`: without the type argument any string compiles (and fails at run time)", () => {
    void prisma.$cache.invalidate({ model: "Nope" });
    void cacheExtension({ models: { Prodct: true } });
    expectTypeOf(typed.user.findUnique({ where: { id: 1 }, cache: { ttl: 1 } })).resolves.toEqualTypeOf<User | null>();
  });
});
