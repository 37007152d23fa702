import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";

type Seeded = Awaited<ReturnType<typeof seedUser>>;

describe("negative caching", () => {
  const namespace = uniqueNamespace();
  const a = createCachedClient({ namespace });
  const b = createCachedClient({ namespace });
  let user: Seeded;
  beforeAll(async () => {
    user = await seedUser(a.base);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  const queriesFor = async (read: () => PromiseLike<unknown>) => {
    const before = a.pool.queries;
    await read();
    return a.pool.queries - before;
  };

  it("caches null from findUnique and findFirst, counted as negative hits", async () => {
    expect(await queriesFor(() => a.prisma.user.findUnique({ where: { email: "nobody@example.com" } }))).toBe(1);
    expect(await queriesFor(() => a.prisma.user.findUnique({ where: { email: "nobody@example.com" } }))).toBe(0);
    expect(await queriesFor(() => a.prisma.user.findFirst({ where: { name: "nobody" } }))).toBe(1);
    expect(await queriesFor(() => a.prisma.user.findFirst({ where: { name: "nobody" } }))).toBe(0);
    expect(a.prisma.$cache.stats().negativeHits).toBe(2);
  });

  it("caches *OrThrow not-found and throws Prisma's own error again, from L1 and from Redis", async () => {
    const read = (c: typeof a) => c.prisma.user.findUniqueOrThrow({ where: { email: "ghost@example.com" } });
    const first = await read(a).catch((error: unknown) => error);
    expect(first).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
    const before = a.pool.queries;
    const fromL1 = await read(a).catch((error: unknown) => error);
    const fromL2 = await read(b).catch((error: unknown) => error);
    expect(a.pool.queries).toBe(before);
    expect(b.pool.queries).toBe(0);
    for (const error of [fromL1, fromL2]) {
      expect(error).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
      expect(error).toMatchObject({ code: "P2025", message: (first as Error).message, meta: (first as { meta: unknown }).meta });
    }
    await expect(a.prisma.post.findFirstOrThrow({ where: { title: "no such title" } })).rejects.toMatchObject({ code: "P2025" });
    expect(await queriesFor(() => a.prisma.post.findFirstOrThrow({ where: { title: "no such title" } }).catch(() => null))).toBe(0);
  });

  it("replays a not-found that Prisma answered in a batch as Prisma answers a lone call (found by an outside probe)", async () => {
    const email = `batched-${Date.now()}-${Math.random()}@example.com`;
    const read = (c: typeof a, address: string) =>
      c.prisma.user.findUniqueOrThrow({ where: { email: address } }).then(
        () => ({ meta: "found", message: "found" }),
        (error: unknown) => error as { meta: unknown; message: string },
      );
    // One tick: Prisma sends both loads in one batch, and its error for a batched call has no meta.operation.
    await Promise.all([read(a, email), read(a, `other-${email}`)]);
    const before = a.pool.queries;
    const hit = await read(a, email);
    expect(a.pool.queries, "answered from the cache").toBe(before);
    const lone = (await a.base.user.findUniqueOrThrow({ where: { email } }).catch((error: unknown) => error)) as { meta: unknown; message: string };
    expect(hit.meta).toEqual(lone.meta);
    expect(hit.message.split("\n").pop()).toBe(lone.message.split("\n").pop());
  });

  it("honours negativeTtl: 0 (never cached) and per-model overrides", async () => {
    const c = createCachedClient({ redis: null, negativeTtl: 0, models: { User: true, Post: { negativeTtl: 5 } } });
    try {
      const count = async (read: () => PromiseLike<unknown>) => {
        const before = c.pool.queries;
        await read();
        await read();
        return c.pool.queries - before;
      };
      expect(await count(() => c.prisma.user.findUnique({ where: { id: -9 } }))).toBe(2);
      expect(await count(() => c.prisma.post.findUnique({ where: { id: -9 } }))).toBe(1);
    } finally {
      await c.close();
    }
  });

  // Every write that could make a cached "not found" exist invalidates it at once, on every instance.
  const becomesVisible = async (read: (c: typeof a) => PromiseLike<unknown>, write: () => PromiseLike<unknown>) => {
    expect(await read(a)).toBeNull();
    expect(await read(b)).toBeNull();
    await write();
    expect(await read(a)).not.toBeNull();
    expect(await read(b)).not.toBeNull();
  };

  it("invalidated by create", async () => {
    const email = `signup-${Date.now()}@example.com`;
    await becomesVisible((c) => c.prisma.user.findUnique({ where: { email } }), () => b.prisma.user.create({ data: { email } }));
  });

  it("invalidated by upsert", async () => {
    const email = `upsert-${Date.now()}@example.com`;
    await becomesVisible((c) => c.prisma.user.findUnique({ where: { email } }), () => a.prisma.user.upsert({ where: { email }, create: { email }, update: {} }));
  });

  it("invalidated by a nested create", async () => {
    const slug = `nested-${Date.now()}`;
    await becomesVisible(
      (c) => c.prisma.post.findUnique({ where: { authorId_slug: { authorId: user.id, slug } } }),
      () => b.prisma.user.update({ where: { id: user.id }, data: { posts: { create: { slug, title: "nested" } } } }),
    );
  });

  it("invalidated by an update that sets the unique field", async () => {
    const target = await seedUser(a.base);
    const email = `renamed-${Date.now()}@example.com`;
    await becomesVisible((c) => c.prisma.user.findUnique({ where: { email } }), () => b.prisma.user.update({ where: { id: target.id }, data: { email } }));
    // ...and the old address is gone at once too.
    expect(await a.prisma.user.findUnique({ where: { email: target.email } })).toBeNull();
  });
});
