import { describe, expectTypeOf, it } from "vitest";
import type { Post, Prisma, PrismaClient, User } from "../../prisma/generated/client.ts";
import { accelerateCompat, type AccelerateInfo, type CacheStats } from "../../src/index.ts";

declare const base: PrismaClient;
const prisma = base.$extends(accelerateCompat({}));

describe("the Accelerate mode's types", () => {
  it("accepts cacheStrategy on every cached read, with Prisma's result types", () => {
    expectTypeOf(prisma.user.findUnique({ where: { id: 1 }, cacheStrategy: { ttl: 60, swr: 60, tags: ["user_1"] } })).resolves.toEqualTypeOf<User | null>();
    expectTypeOf(prisma.user.findUniqueOrThrow({ where: { id: 1 }, cacheStrategy: { ttl: 60 } })).resolves.toEqualTypeOf<User>();
    expectTypeOf(prisma.user.findFirst({ cacheStrategy: { swr: 5 } })).resolves.toEqualTypeOf<User | null>();
    expectTypeOf(prisma.user.findFirstOrThrow({ cacheStrategy: { ttl: 5 } })).resolves.toEqualTypeOf<User>();
    expectTypeOf(prisma.user.findMany({ cacheStrategy: { ttl: 60 } })).resolves.toEqualTypeOf<User[]>();
    expectTypeOf(prisma.user.findMany()).resolves.toEqualTypeOf<User[]>();
    expectTypeOf(prisma.user.count({ cacheStrategy: { ttl: 60 } })).resolves.toEqualTypeOf<number>();
    const sums = prisma.user.aggregate({ _sum: { visits: true }, cacheStrategy: { ttl: 5 } });
    expectTypeOf(sums).resolves.toEqualTypeOf<{ _sum: { visits: bigint | null } }>();
    const groups = prisma.user.groupBy({ by: ["role"], _count: { _all: true }, cacheStrategy: { ttl: 5 } });
    expectTypeOf(groups).resolves.items.toHaveProperty("role").toEqualTypeOf<"USER" | "ADMIN">();
  });

  it("keeps select shapes, with no any", async () => {
    const picked = await prisma.user.findUnique({ where: { id: 1 }, select: { email: true, balance: true }, cacheStrategy: { ttl: 1 } });
    expectTypeOf(picked).not.toBeAny();
    expectTypeOf(picked).toEqualTypeOf<{ email: string; balance: Prisma.Decimal } | null>();
  });

  it("rejects malformed strategies and this library's own `cache` option at compile time", () => {
    // @ts-expect-error ttl is a number of seconds
    void prisma.user.findMany({ cacheStrategy: { ttl: "10" } });
    // @ts-expect-error unknown strategy key
    void prisma.user.findMany({ cacheStrategy: { tll: 10 } });
    // @ts-expect-error tags are strings
    void prisma.user.findMany({ cacheStrategy: { ttl: 1, tags: [1] } });
    // @ts-expect-error the Accelerate mode takes cacheStrategy, not cache
    void prisma.user.findMany({ cache: { ttl: 10 } });
  });

  it("exposes withAccelerateInfo() on reads, with the data type and AccelerateInfo", async () => {
    const { data, info } = await prisma.user.findMany({ cacheStrategy: { ttl: 60 } }).withAccelerateInfo();
    expectTypeOf(data).toEqualTypeOf<User[]>();
    expectTypeOf(info).toEqualTypeOf<AccelerateInfo>();
    expectTypeOf(info.cacheStatus).toEqualTypeOf<"ttl" | "swr" | "miss" | "none">();
    expectTypeOf(info.tier).toEqualTypeOf<"l1" | "l2" | "db" | "bloom">();
    expectTypeOf(info.lastModified).toEqualTypeOf<Date>();
    const one = await prisma.user.findUnique({ where: { id: 1 } }).withAccelerateInfo();
    expectTypeOf(one.data).toEqualTypeOf<User | null>();
    // Code written for Accelerate's `info: AccelerateInfo | null` still compiles.
    if (info === null) throw new Error("unreachable");
    expectTypeOf(info?.cacheStatus).toEqualTypeOf<"ttl" | "swr" | "miss" | "none">();
  });

  it("exposes $accelerate and $cache", () => {
    expectTypeOf(prisma.$accelerate.invalidate({ tags: ["emails_with_alice"] })).resolves.toEqualTypeOf<{ requestId: string }>();
    expectTypeOf(prisma.$accelerate.invalidateAll()).resolves.toEqualTypeOf<{ requestId: string }>();
    // @ts-expect-error tags are required
    void prisma.$accelerate.invalidate({});
    expectTypeOf(prisma.$cache.stats()).toEqualTypeOf<CacheStats>();
  });

  it("keeps the fluent API, writes and transactions typed as before", async () => {
    expectTypeOf(prisma.user.findUnique({ where: { id: 1 }, cacheStrategy: { ttl: 1 } }).posts()).resolves.toEqualTypeOf<Post[] | null>();
    expectTypeOf(prisma.user.create({ data: { email: "x" } })).resolves.toEqualTypeOf<User>();
    const [a, b] = await prisma.$transaction([prisma.user.findUnique({ where: { id: 1 }, cacheStrategy: { ttl: 1 } }), prisma.user.count()]);
    expectTypeOf(a).toEqualTypeOf<User | null>();
    expectTypeOf(b).toEqualTypeOf<number>();
  });

  it("checks model names against the client's Prisma.ModelName when given it, in the options and in $cache methods", () => {
    const typed = base.$extends(accelerateCompat<Prisma.ModelName>({ models: { Post: false, User: { bloom: true } } }));
    // @ts-expect-error no model "Prodct"
    void accelerateCompat<Prisma.ModelName>({ models: { Prodct: false } });
    // @ts-expect-error no model "Usr" in dependsOn
    void accelerateCompat<Prisma.ModelName>({ models: { User: { dependsOn: ["Usr"] } } });
    // @ts-expect-error no model "Nope"
    void typed.$cache.invalidate({ model: "Nope" });
    expectTypeOf(typed.$cache.invalidate({ models: ["Post", "Tag"] })).toEqualTypeOf<Promise<void>>();
    // Without the type argument any string compiles (and fails at run time), as in cacheExtension.
    void accelerateCompat({ models: { Prodct: false } });
  });

  it("rejects lifetimes in the options: they are per query", () => {
    // @ts-expect-error ttl is set per query with cacheStrategy
    void accelerateCompat({ ttl: 60 });
    // @ts-expect-error swr is set per query with cacheStrategy
    void accelerateCompat({ models: { User: { swr: 5 } } });
  });
});
