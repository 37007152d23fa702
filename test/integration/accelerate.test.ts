import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { CacheArgumentError, CacheConfigError, accelerateCompat, type AccelerateCompatOptions } from "../../src/index.ts";
import { accelerateApp, extendClient } from "../fixtures/accelerate-app.ts";
import { createBaseClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { FakeClock } from "../helpers/random.ts";
import { Prisma } from "../../prisma/generated/client.ts";
import { seedUser } from "../helpers/seed.ts";

/** One instance of the Accelerate app: its own Prisma client and pool, sharing Redis and namespace with its peers. */
function instance(options: AccelerateCompatOptions) {
  const { base, pool } = createBaseClient();
  const prisma = extendClient(base, options);
  return { base, pool, prisma, app: accelerateApp(prisma), close: async () => (await prisma.$cache.close(), await base.$disconnect()) };
}

/** Waits until the instance's invalidation subscription is up, so L1 serves (a probe read's tier says so). */
async function untilL1Serves(prisma: ReturnType<typeof instance>["prisma"]): Promise<void> {
  const probe = () => prisma.user.findFirst({ where: { id: -1 }, cacheStrategy: { ttl: 3600 } }).withAccelerateInfo();
  for (let tries = 0; (await probe()).info.tier !== "l1"; tries++) {
    if (tries === 1000) throw new Error("L1 never served: the invalidation subscription did not come up");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Database statements a call sends (outside transactions). */
async function roundTrips(pool: { queries: number }, run: () => PromiseLike<unknown>): Promise<number> {
  const before = pool.queries;
  await run();
  return pool.queries - before;
}

describe("an app written for Accelerate, on one instance", () => {
  const clock = new FakeClock();
  const redis = createRedis();
  const a = instance({ redis, namespace: uniqueNamespace(), clock });
  let alice: Awaited<ReturnType<typeof seedUser>>;
  beforeAll(async () => {
    alice = await seedUser(a.base, { email: `alice@prisma.io-${Date.now()}` });
    await untilL1Serves(a.prisma);
  });
  afterAll(async () => {
    await a.close();
    redis.disconnect();
  });

  it("reports miss, then ttl, then swr after the ttl, then ttl again once refreshed", async () => {
    const first = await a.app.emailsWithAliceInfo();
    expect(first.info).toMatchObject({ cacheStatus: "miss", tier: "db" });
    expect(first.data.map((user) => user.id)).toContain(alice.id);
    const second = await a.app.emailsWithAliceInfo();
    expect(second.info).toMatchObject({ cacheStatus: "ttl", tier: "l1" });
    expect(second.info.lastModified.getTime()).toBe(first.info.lastModified.getTime());
    expect(second.info.signature).toBe(first.info.signature);
    expect(second.data).toEqual(first.data);
    clock.advance(61_000);
    // L1 keeps entries at most l1.maxTtl (60 s): the stale entry is served from Redis.
    const stale = await a.app.emailsWithAliceInfo();
    expect(stale.info).toMatchObject({ cacheStatus: "swr", tier: "l2" });
    expect(stale.data).toEqual(first.data);
    await a.prisma.$cache.drain();
    const refreshed = await a.app.emailsWithAliceInfo();
    expect(refreshed.info).toMatchObject({ cacheStatus: "ttl", tier: "l1" });
    expect(refreshed.info.lastModified.getTime()).toBe(clock.now());
    clock.advance(121_000);
    expect((await a.app.emailsWithAliceInfo()).info).toMatchObject({ cacheStatus: "miss", tier: "db" });
  });

  it("does not cache a query without cacheStrategy, and reports none", async () => {
    expect(await roundTrips(a.pool, () => a.app.uncachedUsers())).toBe(1);
    expect(await roundTrips(a.pool, () => a.app.uncachedUsers())).toBe(1);
    const before = a.prisma.$cache.stats().bypasses["cache: false"] ?? 0;
    const { info } = await a.app.uncachedUsersInfo();
    expect(info).toMatchObject({ cacheStatus: "none", tier: "db", signature: "unspecified", region: "self-hosted" });
    // One read, one bypass: the promise withAccelerateInfo() was called on never ran (outside probe 128: counted twice).
    expect((a.prisma.$cache.stats().bypasses["cache: false"] ?? 0) - before).toBe(1);
  });

  it("counts a read inside an interactive transaction as bypassed by the transaction, as the core does (found by an outside probe)", async () => {
    const before = a.prisma.$cache.stats().bypasses;
    await a.prisma.$transaction(async (tx) => tx.user.findUnique({ where: { id: alice.id } }));
    const after = a.prisma.$cache.stats().bypasses;
    expect((after.transaction ?? 0) - (before.transaction ?? 0)).toBe(1);
    expect((after["cache: false"] ?? 0) - (before["cache: false"] ?? 0)).toBe(0);
  });

  it("caches for ttl seconds, exactly (no jitter by default)", async () => {
    expect(await roundTrips(a.pool, () => a.app.usersWithTtl())).toBe(1);
    clock.advance(59_999);
    expect(await roundTrips(a.pool, () => a.app.usersWithTtl())).toBe(0);
    clock.advance(1);
    expect(await roundTrips(a.pool, () => a.app.usersWithTtl())).toBe(1);
  });

  it("with swr only, serves the cached result stale and refreshes it in the background", async () => {
    expect(await roundTrips(a.pool, () => a.app.usersWithSwr())).toBe(1);
    const stale = await a.prisma.user.findMany({ where: { active: true }, cacheStrategy: { swr: 60 } }).withAccelerateInfo();
    expect(stale.info.cacheStatus).toBe("swr");
    await a.prisma.$cache.drain();
    expect(a.prisma.$cache.stats().backgroundRefreshes).toBeGreaterThanOrEqual(1);
  });

  it("keeps a not-found result for the query's ttl, like any other result", async () => {
    const missing = () => a.prisma.user.findUnique({ where: { id: -4242 }, cacheStrategy: { ttl: 5 } });
    expect(await roundTrips(a.pool, missing)).toBe(1);
    const loadedAt = clock.now();
    const { info } = await missing().withAccelerateInfo();
    expect(info).toMatchObject({ cacheStatus: "ttl" });
    // When the "not found" was loaded, not the query's ttl before its expiry (kept for min(ttl, negativeTtl)).
    expect(info.lastModified.getTime()).toBe(loadedAt);
    clock.advance(5_000);
    expect(await roundTrips(a.pool, missing)).toBe(1);
  });

  it("invalidates by tag", async () => {
    await a.app.invalidateAlice();
    await a.app.emailsWithAlice();
    expect((await a.app.emailsWithAliceInfo()).info.cacheStatus).toBe("ttl");
    await expect(a.app.invalidateAlice()).resolves.toEqual({ requestId: expect.any(String) });
    expect((await a.app.emailsWithAliceInfo()).info.cacheStatus).toBe("miss");
  });

  it("invalidateAll() drops every cached read", async () => {
    await a.app.userById(alice.id);
    await a.app.countPublished();
    expect((await a.app.userByIdInfo(alice.id)).info.cacheStatus).toBe("ttl");
    await a.app.invalidateAll();
    expect((await a.app.userByIdInfo(alice.id)).info.cacheStatus).toBe("miss");
    expect(await roundTrips(a.pool, () => a.app.countPublished())).toBe(1);
  });

  it("caches count, aggregate, groupBy and findFirst with a cacheStrategy", async () => {
    const reads = [a.app.countPublished, a.app.postStats, a.app.postsByAuthor, a.app.firstPost];
    const first = [];
    for (const read of reads) first.push(await read());
    for (const read of reads) expect(await roundTrips(a.pool, read)).toBe(0);
    const again = [];
    for (const read of reads) again.push(await read());
    expect(again).toEqual(first);
  });

  it("unlike Accelerate, a write through the client invalidates what it changed at once", async () => {
    expect((await a.app.userById(alice.id))?.name).toBe(alice.name);
    await a.prisma.user.update({ where: { id: alice.id }, data: { name: "Alice Updated" } });
    const after = await a.app.userByIdInfo(alice.id);
    expect(after.info.cacheStatus).toBe("miss");
    expect(after.data?.name).toBe("Alice Updated");
  });

  it("keeps the fluent API and batch transactions, and reads inside transactions are never cached", async () => {
    const posts = await a.prisma.user.findUnique({ where: { id: alice.id }, cacheStrategy: { ttl: 60 } }).posts();
    expect(posts?.length).toBe(2);
    const [found, count, withInfo] = await a.prisma.$transaction([
      a.prisma.user.findUnique({ where: { id: alice.id }, cacheStrategy: { ttl: 60 } }),
      a.prisma.post.count({ cacheStrategy: { ttl: 60 } }),
      a.prisma.user.findMany({ where: { id: alice.id }, cacheStrategy: { ttl: 60 } }).withAccelerateInfo(),
    ]);
    expect(found?.id).toBe(alice.id);
    expect(count).toBeGreaterThan(0);
    expect(withInfo.data.map((user) => user.id)).toEqual([alice.id]);
    expect(withInfo.info.cacheStatus).toBe("none");
    await a.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: alice.id }, data: { name: "inside-tx" } });
      const inside = await tx.user.findUnique({ where: { id: alice.id }, cacheStrategy: { ttl: 60 } }).withAccelerateInfo();
      expect(inside.data?.name).toBe("inside-tx");
      expect(inside.info.cacheStatus).toBe("none");
      throw new Error("rollback");
    }).catch((error: Error) => expect(error.message).toBe("rollback"));
    expect((await a.app.userById(alice.id))?.name).not.toBe("inside-tx");
  });
});

// Outside probe 211: on a client extended after the Accelerate mode, every read failed — Prisma ran
// this mode's read again on the translated arguments, and it refused their `cache`.
describe("an Accelerate app that extends the client further", () => {
  const redis = createRedis();
  const { base } = createBaseClient();
  const accelerated = extendClient(base, { redis, namespace: uniqueNamespace() });
  const app = accelerated
    .$extends({ result: { user: { label: { needs: { name: true }, compute: (user) => `~${user.name}` } } } })
    .$extends({
      model: {
        user: {
          byId(id: number) {
            return Prisma.getExtensionContext(this).findUnique({ where: { id }, cacheStrategy: { ttl: 60 } });
          },
        },
      },
      client: { appName: () => "app" },
    });
  let alice: Awaited<ReturnType<typeof seedUser>>;
  beforeAll(async () => {
    alice = await seedUser(base, { email: `alice@prisma.io-${Date.now()}-extended` });
  });
  afterAll(async () => {
    await accelerated.$cache.close();
    await base.$disconnect();
    redis.disconnect();
  });

  it("reads with and without a cacheStrategy, through a model method, fluently and in transactions, cached as below", async () => {
    const read = () => app.user.findUnique({ where: { id: alice.id }, cacheStrategy: { ttl: 60 } }).withAccelerateInfo();
    expect((await read()).data?.id).toBe(alice.id);
    expect((await read()).info.cacheStatus).toBe("ttl");
    expect((await app.user.findMany({ where: { id: alice.id } }).withAccelerateInfo()).info.cacheStatus).toBe("none");
    expect((await app.user.byId(alice.id))?.id).toBe(alice.id);
    expect(await app.user.findUnique({ where: { id: alice.id }, cacheStrategy: { ttl: 60 } }).posts()).toHaveLength(2);
    const [found] = await app.$transaction([app.user.findUnique({ where: { id: alice.id }, cacheStrategy: { ttl: 60 } })]);
    expect(found?.id).toBe(alice.id);
    const inside = await app.$transaction(async (tx) => tx.user.findUnique({ where: { id: alice.id }, cacheStrategy: { ttl: 60 } }).withAccelerateInfo());
    expect(inside.info.cacheStatus).toBe("none");
    // A write through the extended client still reaches its cached reads.
    await app.user.update({ where: { id: alice.id }, data: { name: "renamed" } });
    expect((await read()).data?.name).toBe("renamed");
    await expect(app.user.findUnique({ where: { id: alice.id }, cacheStrategy: { ttl: -1 } })).rejects.toThrow(CacheArgumentError);
  });
});

describe("two instances sharing Redis", () => {
  const redis = createRedis();
  const namespace = uniqueNamespace();
  const a = instance({ redis, namespace });
  const b = instance({ redis, namespace });
  let alice: Awaited<ReturnType<typeof seedUser>>;
  beforeAll(async () => {
    alice = await seedUser(a.base, { email: `alice@prisma.io-${Date.now()}-2` });
    await Promise.all([untilL1Serves(a.prisma), untilL1Serves(b.prisma)]);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    redis.disconnect();
  });

  it("reports the tier: the database on A, Redis on B, then B's own L1", async () => {
    expect((await a.app.userByIdInfo(alice.id)).info).toMatchObject({ cacheStatus: "miss", tier: "db" });
    // A stores in Redis after it answered, but holds the fleet lock until then: B waits and reads Redis.
    expect((await b.app.userByIdInfo(alice.id)).info).toMatchObject({ cacheStatus: "ttl", tier: "l2" });
    expect((await b.app.userByIdInfo(alice.id)).info).toMatchObject({ cacheStatus: "ttl", tier: "l1" });
  });

  it("a tag invalidated on A is invalidated on B before invalidate() resolves", async () => {
    await b.app.emailsWithAlice();
    expect((await b.app.emailsWithAliceInfo()).info.cacheStatus).toBe("ttl");
    await a.app.invalidateAlice();
    const after = await b.app.emailsWithAliceInfo();
    expect(after.info).toMatchObject({ cacheStatus: "miss", tier: "db" });
  });

  it("a write on A is seen by B's next read", async () => {
    await b.app.userById(alice.id);
    expect((await b.app.userByIdInfo(alice.id)).info.cacheStatus).toBe("ttl");
    await a.prisma.user.update({ where: { id: alice.id }, data: { name: "renamed on A" } });
    expect((await b.app.userById(alice.id))?.name).toBe("renamed on A");
  });
});

describe("the Bloom guard in the Accelerate mode", () => {
  it("reports a lookup the filter answered as a cache hit from tier bloom, with no round trip", async () => {
    const redis = createRedis();
    const a = instance({ redis, namespace: uniqueNamespace(), models: { User: { bloom: true } } });
    try {
      await seedUser(a.base);
      await a.prisma.$cache.prepareBloom();
      const before = a.pool.queries;
      const { data, info } = await a.prisma.user.findUnique({ where: { email: "never-existed@example.com" }, cacheStrategy: { ttl: 60 } }).withAccelerateInfo();
      expect(data).toBeNull();
      expect(info).toMatchObject({ cacheStatus: "ttl", tier: "bloom" });
      expect(a.pool.queries).toBe(before);
    } finally {
      await a.close();
      redis.disconnect();
    }
  });
});

describe("a model opted out in the Accelerate mode", () => {
  it("is read uncached whatever its cacheStrategy, reported as not cached, and never as an error", async () => {
    const redis = createRedis();
    const errors: unknown[] = [];
    const a = instance({ redis, namespace: uniqueNamespace(), models: { Post: false }, onError: (error) => void errors.push(error) });
    try {
      const user = await seedUser(a.base);
      for (let i = 0; i < 2; i++) {
        const before = a.pool.queries;
        const { data, info } = await a.prisma.post.findMany({ where: { authorId: user.id }, cacheStrategy: { ttl: 60 } }).withAccelerateInfo();
        expect(data).toEqual(await a.base.post.findMany({ where: { authorId: user.id } }));
        expect(info).toMatchObject({ cacheStatus: "none" });
        expect(a.pool.queries - before).toBe(2);
      }
      expect(errors).toEqual([]);
    } finally {
      await a.close();
      redis.disconnect();
    }
  });
});

describe("validation, as Accelerate's limits", () => {
  const { base } = createBaseClient();
  const redis: Redis = createRedis();
  const prisma = base.$extends(accelerateCompat({ redis, namespace: uniqueNamespace() }));
  afterAll(async () => {
    await prisma.$cache.close();
    await base.$disconnect();
    redis.disconnect();
  });

  /** A bad cacheStrategy rejects the query, with and without its info (never a throw at the call), naming the argument. */
  const argumentError = async (run: () => PromiseLike<unknown> & { withAccelerateInfo(): PromiseLike<unknown> }, argument: string) => {
    let query: (PromiseLike<unknown> & { withAccelerateInfo(): PromiseLike<unknown> }) | undefined;
    expect(() => (query = run()), `${argument}: thrown at the call`).not.toThrow();
    for (const settled of [query!, query!.withAccelerateInfo()]) {
      const caught = await Promise.resolve(settled).then(() => undefined, (error: unknown) => error);
      expect(caught).toBeInstanceOf(CacheArgumentError);
      expect((caught as CacheArgumentError).argument).toBe(argument);
      expect((caught as CacheArgumentError).code).toBe("E_INVALID_ARGUMENT");
    }
  };

  it("rejects more than 5 tags, malformed tags and tags over 64 characters, naming the tag", async () => {
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { ttl: 1, tags: ["a", "b", "c", "d", "e", "f"] } }), "cacheStrategy.tags");
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { ttl: 1, tags: ["ok", "not-ok"] } }), "cacheStrategy.tags[1]");
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { ttl: 1, tags: [""] } }), "cacheStrategy.tags[0]");
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { ttl: 1, tags: ["x".repeat(65)] } }), "cacheStrategy.tags[0]");
    await expect(prisma.user.findMany({ cacheStrategy: { ttl: 1, tags: ["a", "b", "c", "d", "x".repeat(64)] } })).resolves.toBeInstanceOf(Array);
  });

  it("rejects lifetimes that are not whole, non-negative seconds, and unknown keys", async () => {
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { ttl: -1 } }), "cacheStrategy.ttl");
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { ttl: 1.5 } }), "cacheStrategy.ttl");
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { swr: Number.NaN } }), "cacheStrategy.swr");
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { ttl: "60" } } as never), "cacheStrategy.ttl");
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { tll: 60 } } as never), "cacheStrategy.tll");
    await argumentError(() => prisma.user.findMany({ cacheStrategy: { ttl: 86_400, swr: 1 } }), "cacheStrategy.ttl");
    await argumentError(() => prisma.user.findMany({ cache: { ttl: 60 } } as never), "cache");
    // Objects that hold no strategy as fields were read as `{}`: uncached, silently (outside probe 211).
    await argumentError(() => prisma.user.findMany({ cacheStrategy: new Map([["ttl", 60]]) } as never), "cacheStrategy");
    await argumentError(() => prisma.user.findMany({ cacheStrategy: Object(60) } as never), "cacheStrategy");
  });

  it("validates invalidate() tags the same way, and needs at least one", async () => {
    await expect(prisma.$accelerate.invalidate({ tags: ["a", "b", "c", "d", "e", "f"] })).rejects.toMatchObject({ argument: "tags", code: "E_INVALID_ARGUMENT" });
    await expect(prisma.$accelerate.invalidate({ tags: ["bad tag"] })).rejects.toMatchObject({ argument: "tags[0]" });
    await expect(prisma.$accelerate.invalidate({ tags: [] })).rejects.toBeInstanceOf(CacheArgumentError);
    await expect(prisma.$accelerate.invalidate({ tags: ["a", "b", "c", "d", "e"] })).resolves.toEqual({ requestId: expect.any(String) });
    // A misspelt key would be ignored, as $cache.invalidate() refuses it (found by an outside probe).
    await expect(prisma.$accelerate.invalidate({ tags: ["a"], tag: "b" } as never)).rejects.toMatchObject({ argument: "tag", code: "E_INVALID_ARGUMENT" });
    await expect(prisma.$accelerate.invalidate(null as never)).rejects.toMatchObject({ argument: "input" });
  });

  it("rejects lifetimes and unknown models in the options, naming the option", () => {
    expect(() => accelerateCompat({ ttl: 60 } as never)).toThrow(CacheConfigError);
    expect(() => accelerateCompat({ ttl: 60 } as never)).toThrow(expect.objectContaining({ option: "ttl" }));
    expect(() => base.$extends(accelerateCompat({ models: { User: { swr: 5 } as never } }))).toThrow(expect.objectContaining({ option: "models.User.swr" }));
    expect(() => base.$extends(accelerateCompat({ models: { Nope: true } }))).toThrow(expect.objectContaining({ option: "models.Nope" }));
    // A misspelt opt-out would leave the model it meant cached (found by an outside probe).
    expect(() => base.$extends(accelerateCompat({ models: { AuditLogs: false } }))).toThrow(expect.objectContaining({ option: "models.AuditLogs" }));
    expect(() => base.$extends(accelerateCompat({ models: [] as never }))).toThrow(expect.objectContaining({ option: "models" }));
    // An unknown option's error lists what this mode takes: not the lifetimes it refuses.
    expect(() => accelerateCompat({ jiter: 0.1 } as never)).toThrow(expect.objectContaining({ option: "jiter", message: expect.not.stringMatching(/\bttl\b|\bswr\b/) }));
    expect(() => base.$extends(accelerateCompat({ models: { User: { bloon: true } } } as never))).toThrow(expect.objectContaining({ option: "models.User.bloon", message: expect.not.stringMatching(/\bttl\b|\bswr\b/) }));
  });

  it("checks maxLifetime itself, naming it: every negativeTtl defaults to it, and jitter shrinks its longest", () => {
    // Below a second too: a query's lifetimes are whole seconds (outside probe 211: 0.5 was refused naming a model's internal lifetime).
    for (const maxLifetime of [-1, "100", 1e9, 0, 0.5]) expect(() => accelerateCompat({ maxLifetime: maxLifetime as never })).toThrow(expect.objectContaining({ option: "maxLifetime" }));
    // A negativeTtl above the default maxLifetime names itself, not maxLifetime and a model never configured (outside probe 96).
    expect(() => accelerateCompat({ negativeTtl: 100_000 })).toThrow(expect.objectContaining({ option: "negativeTtl", message: expect.stringMatching(/above maxLifetime, 86400 s \(the default\)/) }));
    expect(() => accelerateCompat({ maxLifetime: 60, models: { User: { negativeTtl: 61 } } })).toThrow(expect.objectContaining({ option: "models.User.negativeTtl" }));
    expect(() => accelerateCompat({ maxLifetime: 60, negativeTtl: 60 })).not.toThrow();
    expect(() => accelerateCompat({ maxLifetime: 31_536_000, jitter: 0.1 })).toThrow(/to 28669090 \(365 days shrunk by the jitter, 0\.1\)/);
    expect(() => accelerateCompat({ maxLifetime: 28_669_090, jitter: 0.1 })).not.toThrow();
  });
});
