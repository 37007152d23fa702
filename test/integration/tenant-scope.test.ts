import { AsyncLocalStorage } from "node:async_hooks";
import { afterAll, describe, expect, it } from "vitest";
import { CacheConfigError, cacheExtension } from "../../src/index.ts";
import { createBaseClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { FakeClock } from "../helpers/random.ts";
import { seedUser } from "../helpers/seed.ts";

const MODELS = { User: true, Post: true } as const;

/**
 * A tenant filter applied before the cache, its tenant id where the cache cannot see it (a
 * closure, an AsyncLocalStorage): outside probe 144 found the tenants' reads sharing entries in
 * one namespace (tenant 2 served tenant 1's rows), and the README's answer — a namespace per
 * tenant — leaving a table every tenant reads stale in the other namespaces (573 stale reads of
 * a renamed user). `scope` keeps one namespace, so writes invalidate across tenants, and keys apart.
 */
describe("scope: tenants of one namespace", () => {
  const redis = createRedis();
  const opened: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const client of opened) await client.close();
    await seeder.$disconnect();
    redis.disconnect();
  });

  /** A client whose post reads see one author's posts only (the tenant), its id in the closure. */
  function tenantClient(namespace: string, authorId: () => number | undefined, scope?: Parameters<typeof cacheExtension>[0]["scope"], options: Partial<Parameters<typeof cacheExtension>[0]> = {}) {
    const { base, pool } = createBaseClient();
    const filtered = base.$extends({
      query: {
        post: {
          findMany({ args, query }) {
            const tenant = authorId();
            return query(tenant === undefined ? args : { ...args, where: { ...args.where, authorId: tenant } });
          },
        },
      },
    });
    const prisma = filtered.$extends(cacheExtension({ namespace, redis, models: MODELS, ...options, ...(scope === undefined ? {} : { scope }) }));
    const client = { base, pool, prisma, close: async () => (await prisma.$cache.close(), await base.$disconnect()) };
    opened.push(client);
    return client;
  }

  const authorsOf = (posts: Array<{ authorId: number }>) => posts.map((post) => post.authorId).sort();
  const seeder = createBaseClient().base;
  const twoUsers = async () => [await seedUser(seeder), await seedUser(seeder)] as const;

  it("without a scope the tenants' reads share an entry (why the option exists)", async () => {
    const [a, b] = await twoUsers();
    const namespace = uniqueNamespace();
    const ofA = tenantClient(namespace, () => a.id);
    const ofB = tenantClient(namespace, () => b.id);
    const read = { where: { title: "First" }, orderBy: { id: "asc" as const } };
    expect(authorsOf(await ofA.prisma.post.findMany(read))).toEqual([a.id]);
    // Same code, same namespace: B is served A's entry.
    expect(authorsOf(await ofB.prisma.post.findMany(read))).toEqual([a.id]);
  });

  it("a static scope per tenant client keeps their entries apart, and a write through one tenant reaches the other's reads of a shared row", async () => {
    const [a, b] = await twoUsers();
    const namespace = uniqueNamespace();
    const ofA = tenantClient(namespace, () => a.id, `tenant:${a.id}`);
    const ofB = tenantClient(namespace, () => b.id, `tenant:${b.id}`);
    const read = { where: { title: "First" }, orderBy: { id: "asc" as const } };
    expect(authorsOf(await ofA.prisma.post.findMany(read))).toEqual([a.id]);
    expect(authorsOf(await ofB.prisma.post.findMany(read))).toEqual([b.id]);
    // Cached now: each tenant's second read is served from the cache, still its own rows.
    const queries = ofB.pool.queries;
    expect(authorsOf(await ofB.prisma.post.findMany(read))).toEqual([b.id]);
    expect(ofB.pool.queries).toBe(queries);
    // A row both tenants read (no filter on users): cached by both, renamed through A.
    expect((await ofB.prisma.user.findUnique({ where: { id: a.id } }))?.name).toBe(a.name);
    await ofA.prisma.user.update({ where: { id: a.id }, data: { name: "renamed through tenant A" } });
    expect((await ofB.prisma.user.findUnique({ where: { id: a.id } }))?.name).toBe("renamed through tenant A");
  });

  it("a scope function keeps one client's tenants apart (AsyncLocalStorage), and undefined shares an entry across them", async () => {
    const [a, b] = await twoUsers();
    const tenant = new AsyncLocalStorage<number>();
    const asked: string[] = [];
    const client = tenantClient(uniqueNamespace(), () => tenant.getStore(), ({ model, operation }) => {
      asked.push(`${model}.${operation}`);
      return model === "Post" ? String(tenant.getStore()) : undefined;
    });
    const read = { where: { title: "First" }, orderBy: { id: "asc" as const } };
    let queries = 0;
    for (let round = 0; round < 2; round++) {
      expect(authorsOf(await tenant.run(a.id, async () => await client.prisma.post.findMany(read)))).toEqual([a.id]);
      expect(authorsOf(await tenant.run(b.id, async () => await client.prisma.post.findMany(read)))).toEqual([b.id]);
      // The second round is served from the cache, each tenant its own entry.
      if (round === 1) expect(client.pool.queries).toBe(queries);
      queries = client.pool.queries;
    }
    // Users are read alike by every tenant: one entry, loaded once.
    await tenant.run(a.id, async () => await client.prisma.user.findUnique({ where: { id: b.id } }));
    queries = client.pool.queries;
    expect((await tenant.run(b.id, async () => await client.prisma.user.findUnique({ where: { id: b.id } })))?.name).toBe(b.name);
    expect(client.pool.queries).toBe(queries);
    expect(asked).toContain("User.findUnique");
    // A write in one tenant's context invalidates the entry every tenant shares.
    await tenant.run(a.id, async () => await client.prisma.user.update({ where: { id: b.id }, data: { name: "renamed in A's request" } }));
    expect((await tenant.run(b.id, async () => await client.prisma.user.findUnique({ where: { id: b.id } })))?.name).toBe("renamed in A's request");
  });

  it("a tenant changed in place while a read loads or refreshes files nothing under the wrong tenant (outside probe 145)", async () => {
    const [a, b] = await twoUsers();
    // One mutable store per request or job, as nestjs-cls and express-http-context keep it.
    const tenant = new AsyncLocalStorage<{ authorId: number | undefined }>();
    const clock = new FakeClock(Date.now());
    const client = tenantClient(
      uniqueNamespace(),
      () => tenant.getStore()?.authorId,
      ({ model }) => (model === "Post" ? tenant.getStore()?.authorId : undefined),
      { clock, models: { User: true, Post: { ttl: 1, swr: 60 } } },
    );
    const read = { where: { title: "First" }, orderBy: { id: "asc" as const } };
    const readAs = (authorId: number) => tenant.run({ authorId }, async () => authorsOf(await client.prisma.post.findMany(read)));

    // A miss: the request switches its tenant while the read waits for Redis, before its load ran.
    await tenant.run({ authorId: a.id }, async () => {
      const reading = client.prisma.post.findMany(read);
      const result = reading.then(authorsOf);
      await new Promise((resolve) => setImmediate(resolve));
      tenant.getStore()!.authorId = b.id;
      await result;
    });
    expect(await readAs(a.id), "a's entry holds a's posts").toEqual([a.id]);
    expect(await readAs(b.id)).toEqual([b.id]);

    // A refresh: a job walks the tenants on one store; each stale hit's refresh runs after the job moved on.
    clock.advance(1_100);
    await tenant.run({ authorId: undefined }, async () => {
      const store = tenant.getStore()!;
      for (const authorId of [a.id, b.id]) {
        store.authorId = authorId;
        expect(authorsOf(await client.prisma.post.findMany(read)), "the stale hit itself").toEqual([authorId]);
      }
      store.authorId = undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await readAs(a.id)).toEqual([a.id]);
    expect(await readAs(b.id)).toEqual([b.id]);
    expect(client.prisma.$cache.stats().bypasses["scope changed while read"]).toBeGreaterThan(0);
  });

  it("a read that joins a load whose tenant moved loads by itself, never taking the other tenant's rows (outside probe 146)", async () => {
    const [a, b] = await twoUsers();
    const tenant = new AsyncLocalStorage<{ authorId: number }>();
    const client = tenantClient(uniqueNamespace(), () => tenant.getStore()?.authorId, ({ model }) => (model === "Post" ? tenant.getStore()?.authorId : undefined));
    let leaks = 0;
    for (let i = 0; i < 10; i++) {
      const read = { where: { title: { in: ["First", "Second"] } }, orderBy: { id: "asc" as const }, take: 50 + i };
      const switching = { authorId: a.id };
      const first = tenant.run(switching, async () => authorsOf(await client.prisma.post.findMany(read)));
      // The first read has started (its scope asked: a); its request then switches tenant in place.
      for (let tick = 0; tick < 5; tick++) await null;
      switching.authorId = b.id;
      // Another request of tenant a, whose context never changes, reads the same key meanwhile.
      const second = tenant.run({ authorId: a.id }, async () => authorsOf(await client.prisma.post.findMany(read)));
      const [, got] = await Promise.all([first, second]);
      if (got.some((author) => author !== a.id)) leaks++;
      expect(await tenant.run({ authorId: a.id }, async () => authorsOf(await client.prisma.post.findMany(read))), "what tenant a's key holds").toEqual([a.id, a.id]);
    }
    expect(leaks).toBe(0);
    expect(client.prisma.$cache.stats().bypasses["scope changed while read"]).toBeGreaterThan(0);
  });

  it("a tenant that moved when the query ran and moved back before it returned is caught where the query passes the hooks", async () => {
    const [a, b] = await twoUsers();
    const tenant = new AsyncLocalStorage<{ authorId: number }>();
    const { base } = createBaseClient();
    let flip = false;
    // A filter that finds the store switched when it runs (as another task of the request could
    // leave it), and sees it switched back before the rows return: both scope checks around the load say a.
    const filtered = base.$extends({
      query: {
        post: {
          findMany({ args, query }) {
            const store = tenant.getStore()!;
            const own = store.authorId;
            if (flip) store.authorId = b.id;
            return query({ ...args, where: { ...args.where, authorId: store.authorId } }).then((rows) => {
              store.authorId = own;
              return rows;
            });
          },
        },
      },
    });
    const prisma = filtered.$extends(cacheExtension({ namespace: uniqueNamespace(), redis, models: MODELS, scope: ({ model }) => (model === "Post" ? tenant.getStore()?.authorId : undefined) }));
    opened.push({ close: async () => (await prisma.$cache.close(), await base.$disconnect()) });
    const read = { where: { title: "First" }, orderBy: { id: "asc" as const } };
    flip = true;
    expect(await tenant.run({ authorId: a.id }, async () => authorsOf(await prisma.post.findMany(read))), "what the filter produced").toEqual([b.id]);
    flip = false;
    expect(await tenant.run({ authorId: a.id }, async () => authorsOf(await prisma.post.findMany(read))), "a's key was not filled with b's rows").toEqual([a.id]);
    expect(prisma.$cache.stats().bypasses["scope changed while read"]).toBe(1);
  });

  it("a job that gives each tenant a context of its own (the README's rule) never mixes tenants, with an async filter and refreshes running behind it", async () => {
    const [a, b] = await twoUsers();
    const tenant = new AsyncLocalStorage<{ authorId: number }>();
    const { base } = createBaseClient();
    // An async filter: it awaits before and after it reads the store (a session lookup, a permission check).
    const filtered = base.$extends({
      query: {
        post: {
          async findMany({ args, query }) {
            await new Promise((resolve) => setTimeout(resolve, 1));
            const authorId = tenant.getStore()!.authorId;
            await new Promise((resolve) => setTimeout(resolve, 1));
            return query({ ...args, where: { ...args.where, authorId } });
          },
        },
      },
    });
    const clock = new FakeClock(Date.now());
    const prisma = filtered.$extends(cacheExtension({ namespace: uniqueNamespace(), redis, clock, models: { User: true, Post: { ttl: 1, swr: 60 } }, scope: ({ model }) => (model === "Post" ? tenant.getStore()?.authorId : undefined) }));
    opened.push({ close: async () => (await prisma.$cache.close(), await base.$disconnect()) });
    const read = { where: { title: "First" }, orderBy: { id: "asc" as const } };
    const readAs = (authorId: number) => tenant.run({ authorId }, async () => authorsOf(await prisma.post.findMany(read)));
    const wrong: string[] = [];
    for (let pass = 0; pass < 20; pass++) {
      // Every pass finds the entries stale: each hit starts a refresh, which runs on while the job moves on.
      clock.advance(1_100);
      for (const author of [a.id, b.id]) {
        const got = await readAs(author);
        if (got.some((id) => id !== author)) wrong.push(`pass ${pass}: ${author} got ${got.join(",")}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(wrong).toEqual([]);
    expect(await readAs(a.id)).toEqual([a.id]);
    expect(await readAs(b.id)).toEqual([b.id]);
    expect(prisma.$cache.stats().backgroundRefreshes).toBeGreaterThan(0);
  });

  it("a scope function is told the read's arguments: a model read alike by every tenant can still scope the reads that include tenant rows", async () => {
    const [a, b] = await twoUsers();
    const tenant = new AsyncLocalStorage<number>();
    const { base } = createBaseClient();
    const filtered = base.$extends({
      query: {
        user: {
          findUnique({ args, query }) {
            const authorId = tenant.getStore();
            // Included posts are the tenant's own: the user row is everyone's.
            return query(args.include?.posts === true && authorId !== undefined ? { ...args, include: { ...args.include, posts: { where: { authorId }, orderBy: { id: "asc" } } } } : args);
          },
        },
      },
    });
    const prisma = filtered.$extends(cacheExtension({ namespace: uniqueNamespace(), redis, models: MODELS, scope: ({ model, args }) => (model === "User" && (args?.include as { posts?: unknown } | undefined)?.posts !== undefined ? tenant.getStore() : undefined) }));
    opened.push({ close: async () => (await prisma.$cache.close(), await base.$disconnect()) });
    const postsOfB = (authorId: number) => tenant.run(authorId, async () => (await prisma.user.findUnique({ where: { id: b.id }, include: { posts: true } }))?.posts.length);
    expect(await postsOfB(b.id)).toBe(2);
    // Tenant a sees none of b's posts: an entry shared with tenant b would show it two.
    expect(await postsOfB(a.id)).toBe(0);
    const nameOf = (authorId: number) => tenant.run(authorId, async () => (await prisma.user.findUnique({ where: { id: b.id } }))?.name);
    await nameOf(a.id);
    const hits = prisma.$cache.stats().l1Hits;
    expect(await nameOf(b.id)).toBe(b.name);
    expect(prisma.$cache.stats().l1Hits, "the plain user read is one entry for every tenant").toBe(hits + 1);
  });

  it("a scope function that throws when asked again around a background refresh is reported, not dropped without a word (outside probe 251)", async () => {
    const [a] = await twoUsers();
    const clock = new FakeClock(Date.now());
    let armed = false;
    let failing = false;
    const reports: Array<{ code: string; message: string; cause: unknown }> = [];
    const noTenant = new Error("no tenant in this context");
    const client = tenantClient(
      uniqueNamespace(),
      // The tenant filter runs in the refresh's load only (the stale hit is served from the cache): from there on the scope throws.
      () => ((failing = armed), a.id),
      () => {
        if (failing) throw noTenant;
        return a.id;
      },
      { clock, models: { User: true, Post: { ttl: 1, swr: 60 } }, onError: (error) => reports.push(error as never) },
    );
    const read = { where: { title: "First" }, orderBy: { id: "asc" as const } };
    expect(authorsOf(await client.prisma.post.findMany(read))).toEqual([a.id]);
    clock.advance(1_100);
    // The stale hit asks the scope (it answers); its refresh asks again once its query passed the filter, and it throws.
    armed = true;
    expect(authorsOf(await client.prisma.post.findMany(read)), "the stale hit").toEqual([a.id]);
    await client.prisma.$cache.drain();
    const report = reports.find((error) => error.code === "E_REFRESH_FAILED");
    expect(report?.message).toMatch(/scope function threw.*no tenant in this context/);
    expect(report?.cause).toBe(noTenant);
  });

  it("a bad scope is refused: at creation, or the read rejects naming it; the function's own error rejects the read", async () => {
    expect(() => cacheExtension({ models: MODELS, scope: 42 as never })).toThrow(CacheConfigError);
    expect(() => cacheExtension({ models: MODELS, scope: "" })).toThrow(/scope/);
    const user = await seedUser(seeder);
    const returnsNumber = tenantClient(uniqueNamespace(), () => undefined, () => ({}) as never);
    const failure = await returnsNumber.prisma.user.findUnique({ where: { id: user.id } }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CacheConfigError);
    expect((failure as CacheConfigError).option).toBe("scope");
    const noTenant = new Error("no tenant in this request");
    const throws = tenantClient(uniqueNamespace(), () => undefined, () => {
      throw noTenant;
    });
    await expect(throws.prisma.user.findUnique({ where: { id: user.id } })).rejects.toBe(noTenant);
    // Writes and uncached reads do not ask it.
    await expect(throws.prisma.user.findUnique({ where: { id: user.id }, cache: false })).resolves.toMatchObject({ id: user.id });
  });
});
