import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { createBaseClient, createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";

type Seeded = Awaited<ReturnType<typeof seedUser>>;

/**
 * Two instances sharing Redis, each with its own L1 and pool: `a` reads, `b` writes. After a
 * write through either resolves, neither may return older data.
 */
describe("invalidation on writes", () => {
  const namespace = uniqueNamespace();
  const a = createCachedClient({ namespace });
  const b = createCachedClient({ namespace });
  let alice: Seeded;
  let bob: Seeded;

  beforeAll(async () => {
    alice = await seedUser(a.base);
    bob = await seedUser(a.base);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  /** Runs `read` on `a` until cached, then `write` on `writer`, then `read` again on both. */
  async function afterWrite<T>(read: (p: typeof a.prisma) => PromiseLike<T>, write: () => PromiseLike<unknown>) {
    await read(a.prisma);
    const cachedQueries = a.pool.queries;
    await read(a.prisma);
    expect(a.pool.queries, "the read is cached before the write").toBe(cachedQueries);
    await write();
    return { fromA: await read(a.prisma), fromB: await read(b.prisma), expected: await read(a.base as never) };
  }

  async function expectFresh<T>(read: (p: typeof a.prisma) => PromiseLike<T>, write: () => PromiseLike<unknown>) {
    const { fromA, fromB, expected } = await afterWrite(read, write);
    expect(fromA).toEqual(expected);
    expect(fromB).toEqual(expected);
    return expected;
  }

  it("update: the record's unique reads, by any identity, and lists", async () => {
    await expectFresh((p) => p.user.findUnique({ where: { id: alice.id } }), () => b.prisma.user.update({ where: { id: alice.id }, data: { name: "by id" } }));
    await expectFresh((p) => p.user.findUnique({ where: { email: alice.email } }), () => b.prisma.user.update({ where: { id: alice.id }, data: { name: "seen by email" } }));
    const users = await expectFresh((p) => p.user.findMany({ where: { id: { in: [alice.id, bob.id] } }, orderBy: { id: "asc" } }), () => b.prisma.user.update({ where: { email: alice.email }, data: { name: "listed" } }));
    expect(users[0]?.name).toBe("listed");
  });

  it("update by unique key is precise: other records' unique reads stay cached", async () => {
    await a.prisma.user.findUnique({ where: { id: bob.id } });
    const before = a.pool.queries;
    await b.prisma.user.update({ where: { id: alice.id }, data: { score: 1 } });
    await a.prisma.user.findUnique({ where: { id: bob.id } });
    expect(a.pool.queries).toBe(before);
  });

  it("create, createMany and createManyAndReturn refresh lists and counts", async () => {
    const count = (p: typeof a.prisma) => p.post.count({ where: { authorId: bob.id } });
    await expectFresh(count, () => b.prisma.post.create({ data: { slug: `c-${Date.now()}`, title: "created", authorId: bob.id } }));
    await expectFresh(count, () => b.prisma.post.createMany({ data: [{ slug: `m1-${Date.now()}`, title: "m", authorId: bob.id }] }));
    await expectFresh(count, () => b.prisma.post.createManyAndReturn({ data: [{ slug: `m2-${Date.now()}`, title: "m", authorId: bob.id }] }));
  });

  it("create makes a cached 'not found' visible at once, on every instance", async () => {
    const email = `later-${Date.now()}@example.com`;
    const read = (p: typeof a.prisma) => p.user.findUnique({ where: { email } });
    const { fromA, fromB } = await afterWrite(read, () => b.prisma.user.create({ data: { email } }));
    expect(fromA?.email).toBe(email);
    expect(fromB?.email).toBe(email);
  });

  it("updateMany, updateManyAndReturn, upsert, delete and deleteMany", async () => {
    const posts = (p: typeof a.prisma) => p.post.findMany({ where: { authorId: alice.id }, orderBy: { id: "asc" } });
    await expectFresh(posts, () => b.prisma.post.updateMany({ where: { authorId: alice.id }, data: { title: "many" } }));
    await expectFresh((p) => p.post.findUnique({ where: { id: alice.posts[0]!.id } }), () => b.prisma.post.updateMany({ where: { authorId: alice.id }, data: { title: "many again" } }));
    await expectFresh(posts, () => b.prisma.post.updateManyAndReturn({ where: { authorId: alice.id }, data: { published: true } }));
    const slug = `up-${Date.now()}`;
    await expectFresh(posts, () => b.prisma.post.upsert({ where: { authorId_slug: { authorId: alice.id, slug } }, create: { slug, title: "new", authorId: alice.id }, update: {} }));
    await expectFresh((p) => p.post.findUnique({ where: { authorId_slug: { authorId: alice.id, slug } } }), () => b.prisma.post.upsert({ where: { authorId_slug: { authorId: alice.id, slug } }, create: { slug, title: "x", authorId: alice.id }, update: { title: "upserted" } }));
    await expectFresh((p) => p.post.findUnique({ where: { authorId_slug: { authorId: alice.id, slug } } }), () => b.prisma.post.delete({ where: { authorId_slug: { authorId: alice.id, slug } } }));
    await expectFresh(posts, () => b.prisma.post.deleteMany({ where: { authorId: alice.id, title: "nothing matches" } }));
  });

  it("includes and relation filters depend on every model they reach", async () => {
    const withTags = (p: typeof a.prisma) => p.user.findUnique({ where: { id: alice.id }, include: { posts: { include: { tags: true }, orderBy: { id: "asc" } } } });
    const tagId = (await a.base.tag.findFirstOrThrow({ where: { posts: { some: { authorId: alice.id } } } })).id;
    const expected = await expectFresh(withTags, () => b.prisma.tag.update({ where: { id: tagId }, data: { name: `renamed-${Date.now()}` } }));
    expect(expected?.posts.some((post) => post.tags.some((tag) => tag.name.startsWith("renamed-")))).toBe(true);
    const filtered = (p: typeof a.prisma) => p.user.findMany({ where: { posts: { some: { title: "needle" } } }, select: { id: true } });
    const found = await expectFresh(filtered, () => b.prisma.post.update({ where: { id: alice.posts[1]!.id }, data: { title: "needle" } }));
    expect(found).toContainEqual({ id: alice.id });
    await expectFresh((p) => p.user.findUnique({ where: { id: alice.id }, select: { _count: { select: { posts: true } } } }), () => b.prisma.post.create({ data: { slug: `cnt-${Date.now()}`, title: "t", authorId: alice.id } }));
  });

  it("nested writes two levels deep invalidate every model they touch", async () => {
    const tags = (p: typeof a.prisma) => p.tag.findMany({ where: { posts: { some: { authorId: bob.id } } }, orderBy: { id: "asc" } });
    const postId = (await a.base.post.findFirstOrThrow({ where: { authorId: bob.id } })).id;
    const result = await expectFresh(tags, () =>
      b.prisma.user.update({
        where: { id: bob.id },
        data: { posts: { update: { where: { id: postId }, data: { tags: { create: { name: `deep-${Date.now()}` } } } } } },
      }),
    );
    expect(result.some((tag) => tag.name.startsWith("deep-"))).toBe(true);
    const tagCount = (p: typeof a.prisma) => p.tag.count();
    await expectFresh(tagCount, () => b.prisma.user.update({ where: { id: bob.id }, data: { posts: { create: { slug: `n-${Date.now()}`, title: "n", tags: { create: [{ name: `n1-${Date.now()}` }] } } } } }));
  });

  it("a foreign-key move changes both parents", async () => {
    const postId = (await a.base.post.create({ data: { slug: `move-${Date.now()}`, title: "moving", authorId: alice.id } })).id;
    const postsOf = (id: number) => (p: typeof a.prisma) => p.user.findUnique({ where: { id }, include: { posts: { orderBy: { id: "asc" } } } });
    await postsOf(alice.id)(a.prisma);
    const after = await expectFresh(postsOf(bob.id), () => b.prisma.post.update({ where: { id: postId }, data: { author: { connect: { id: bob.id } } } }));
    expect(after?.posts.map((post) => post.id)).toContain(postId);
    expect((await postsOf(alice.id)(a.prisma))?.posts.map((post) => post.id)).not.toContain(postId);
  });

  it("a delete cascades: dependent models' reads are invalidated too", async () => {
    const doomed = await seedUser(a.base);
    const post = doomed.posts[0]!;
    await a.base.comment.create({ data: { body: "c", postId: post.id, authorId: doomed.id } });
    const comments = (p: typeof a.prisma) => p.comment.count({ where: { postId: post.id } });
    const postRead = (p: typeof a.prisma) => p.post.findUnique({ where: { id: post.id } });
    await postRead(a.prisma);
    expect(await expectFresh(comments, () => b.prisma.user.delete({ where: { id: doomed.id } }))).toBe(0);
    expect(await postRead(a.prisma)).toBeNull();
  });
});

describe("transactions", () => {
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

  it("interactive: invalidates at commit, before $transaction resolves; readers before commit are not poisoned", async () => {
    const read = (p: typeof a.prisma) => p.user.findUnique({ where: { id: user.id } });
    await read(a.prisma);
    let seenInside: string | null | undefined;
    await b.prisma.$transaction(async (tx) => {
      await tx.user.update({ where: { id: user.id }, data: { name: "committed" } });
      // Another instance reading before the commit sees (and may cache) the old row...
      seenInside = (await read(a.prisma))?.name;
    });
    expect(seenInside).toBe(user.name);
    // ...but once the transaction resolved, nobody returns it.
    expect((await read(a.prisma))?.name).toBe("committed");
    expect((await read(b.prisma))?.name).toBe("committed");
  });

  it("interactive rollback publishes nothing and changes nothing (no extension below the cache: nothing can have committed outside it)", async () => {
    const read = (p: typeof a.prisma) => p.user.findUnique({ where: { id: user.id } });
    const cached = await read(a.prisma);
    const sent = b.prisma.$cache.stats().invalidationsSent;
    await expect(
      b.prisma.$transaction(async (tx) => {
        await tx.user.update({ where: { id: user.id }, data: { name: "rolled back" } });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(b.prisma.$cache.stats().invalidationsSent).toBe(sent);
    const before = a.pool.queries;
    expect(await read(a.prisma)).toEqual(cached);
    expect(a.pool.queries).toBe(before);
  });

  it("interactive rollback after an extension below the cache committed a write outside the transaction (Prisma's row-level-security pattern): nobody serves the row as it was (outside probe 156), and the model stays cached (outside probe 158)", async () => {
    const ownNamespace = uniqueNamespace();
    const reader = ownStack(ownNamespace);
    // Each query in a batch transaction of the base client, as Prisma's RLS example does: inside
    // an interactive transaction, the write commits on its own, whatever the transaction does after.
    const rls = ownStack(ownNamespace, (base) =>
      base.$extends({
        query: {
          $allModels: {
            async $allOperations({ args, query }) {
              const [, result] = await base.$transaction([base.$executeRaw`SELECT set_config('app.tenant', 't1', TRUE)`, query(args)]);
              return result;
            },
          },
        },
      }),
    );
    const other = await seedUser(a.base);
    try {
      const read = (p: { user: typeof a.prisma.user }) => p.user.findUnique({ where: { id: user.id } });
      await cachedIn(reader, user.id);
      await cachedIn(rls, user.id);
      await cachedIn(rls, other.id);
      await expect(
        rls.prisma.$transaction(async (tx) => {
          await tx.user.update({ where: { id: user.id }, data: { name: "committed by the extension" } });
          // Not a Prisma error: the transaction rolled back for sure, nothing of unknown outcome.
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect((await a.base.user.findUniqueOrThrow({ where: { id: user.id } })).name, "the extension committed it").toBe("committed by the extension");
      expect((await read(reader.prisma))?.name).toBe("committed by the extension");
      expect((await read(rls.prisma))?.name).toBe("committed by the extension");
      // Invalidated as committed, not as a write of unknown outcome: another row of the model is
      // cached again at once (outside probe 158: every read of the model bypassed for 30 s).
      await cachedIn(rls, other.id);
      expect(rls.prisma.$cache.stats().bypasses, "no read bypassed for a write in progress").toEqual({});
    } finally {
      await reader.close();
      await rls.close();
    }
  });

  /**
   * A cache of its own namespace on a client extended below it by `below` (none: the plain client),
   * for tests whose rows must be cached when they start (writes of unknown outcome in earlier tests
   * leave marks on the shared namespace's models that make reads bypass for a while).
   */
  function ownStack(ownNamespace: string, below: (base: ReturnType<typeof createBaseClient>["base"]) => object = (base) => base) {
    const { base } = createBaseClient();
    const redis = createRedis();
    const prisma = (below(base) as typeof base).$extends(cacheExtension({ namespace: ownNamespace, redis, models: { User: true } }));
    return { base, prisma, close: async () => (await prisma.$cache.close(), await base.$disconnect(), redis.disconnect()) };
  }

  /** Reads `id` through `reader` until it is served without a load (the row cached). */
  async function cachedIn(reader: { prisma: { user: typeof a.prisma.user; $cache: typeof a.prisma.$cache } }, id: number) {
    await reader.prisma.user.findUnique({ where: { id } });
    const loads = reader.prisma.$cache.stats().dbLoads;
    await reader.prisma.user.findUnique({ where: { id } });
    expect(reader.prisma.$cache.stats().dbLoads, "the row is cached before the write").toBe(loads);
  }

  it("a batch inside an interactive transaction (tx.$transaction([...])) is applied when the outer transaction commits, whether Prisma runs it inside (an extension below the cache) or commits it on its own (outside probe 160)", async () => {
    const ownNamespace = uniqueNamespace();
    const reader = ownStack(ownNamespace);
    // Any extension below the cache makes Prisma run the nested batch inside the outer transaction; the plain client commits it on its own.
    const writers = [
      ["plain client below", ownStack(ownNamespace)],
      ["extended client below", ownStack(ownNamespace, (base) => base.$extends({ result: { user: { label: { needs: { name: true }, compute: (row) => `${row.name}!` } } } }))],
    ] as const;
    try {
      for (const [label, writer] of writers) {
        const name = `batched inside, ${label}`;
        const read = (p: { user: typeof a.prisma.user }) => p.user.findUnique({ where: { id: user.id } });
        await cachedIn(reader, user.id);
        await writer.prisma.$transaction(async (tx) => {
          await tx.$transaction([tx.user.update({ where: { id: user.id }, data: { name } })]);
          // Between the inner batch and the outer COMMIT: another instance reads, and may cache what it sees.
          await read(reader.prisma);
        });
        expect((await read(reader.prisma))?.name, label).toBe(name);
        expect((await read(writer.prisma))?.name, label).toBe(name);
      }
    } finally {
      await reader.close();
      for (const [, writer] of writers) await writer.close();
    }
  });

  it("a write inside an interactive transaction that failed after it ran (an earlier extension's hook threw), caught by the caller before the commit, is invalidated (outside probe 160)", async () => {
    const ownNamespace = uniqueNamespace();
    const reader = ownStack(ownNamespace);
    const writer = ownStack(ownNamespace, (base) =>
      base.$extends({
        query: {
          user: {
            async update({ args, query }) {
              await query(args);
              throw new Error("audit sink down");
            },
          },
        },
      }),
    );
    try {
      const read = (p: { user: typeof a.prisma.user }) => p.user.findUnique({ where: { id: user.id } });
      await cachedIn(reader, user.id);
      await cachedIn(writer, user.id);
      await writer.prisma.$transaction(async (tx) => {
        await expect(tx.user.update({ where: { id: user.id }, data: { name: "written before the hook threw" } })).rejects.toThrow("audit sink down");
      });
      expect((await a.base.user.findUniqueOrThrow({ where: { id: user.id } })).name, "committed").toBe("written before the hook threw");
      expect((await read(reader.prisma))?.name).toBe("written before the hook threw");
      expect((await read(writer.prisma))?.name).toBe("written before the hook threw");
    } finally {
      await reader.close();
      await writer.close();
    }
  });

  it("batch: writes in $transaction([...]) invalidate after the batch commits", async () => {
    const read = (p: typeof a.prisma) => p.user.findUnique({ where: { id: user.id } });
    const count = (p: typeof a.prisma) => p.post.count({ where: { authorId: user.id } });
    await read(a.prisma);
    await count(a.prisma);
    const [updated, , total] = await b.prisma.$transaction([
      b.prisma.user.update({ where: { id: user.id }, data: { name: "batched" } }),
      b.prisma.post.create({ data: { slug: `b-${Date.now()}`, title: "b", authorId: user.id } }),
      b.prisma.post.count({ where: { authorId: user.id } }),
    ]);
    expect(updated.name).toBe("batched");
    expect((await read(a.prisma))?.name).toBe("batched");
    expect(await count(a.prisma)).toBe(total);
  });

  it("batch run by the client below the cache ($transaction of the base client, with the cache's writes in it: plain, raw, fluent) still invalidates before it resolves", async () => {
    const read = (p: typeof a.prisma) => p.user.findUnique({ where: { id: user.id } });
    const count = (p: typeof a.prisma) => p.post.count({ where: { authorId: user.id } });
    for (const [round, name] of ["below the cache", "raw, below the cache", "fluent, below the cache"].entries()) {
      for (const p of [a.prisma, b.prisma]) {
        await read(p);
        await count(p);
      }
      const write = [
        () => b.prisma.user.update({ where: { id: user.id }, data: { name } }),
        () => b.prisma.$executeRaw`UPDATE "User" SET name = ${name} WHERE id = ${user.id}`,
        () => b.prisma.user.update({ where: { id: user.id }, data: { name } }).posts(),
      ][round]!();
      const [, , total] = await b.base.$transaction([write, b.prisma.post.create({ data: { slug: `below-${round}-${Date.now()}`, title: "b", authorId: user.id } }), b.base.post.count({ where: { authorId: user.id } })]);
      for (const p of [a.prisma, b.prisma]) {
        expect((await read(p))?.name).toBe(name);
        expect(await count(p)).toBe(total);
      }
    }
  });
});

describe("raw SQL and explicit invalidation", () => {
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

  const read = (p: typeof a.prisma) => p.user.findUnique({ where: { id: user.id } });
  const posts = (p: typeof a.prisma) => p.post.count({ where: { authorId: user.id } });
  const cachedQueries = async (r: (p: typeof a.prisma) => PromiseLike<unknown>) => {
    const before = a.pool.queries;
    await r(a.prisma);
    return a.pool.queries - before;
  };

  beforeEach(async () => {
    await read(a.prisma);
    await posts(a.prisma);
  });

  it("$executeRaw invalidates every model by default", async () => {
    await b.prisma.$executeRaw`UPDATE "User" SET name = ${"raw"} WHERE id = ${user.id}`;
    expect((await read(a.prisma))?.name).toBe("raw");
    expect(await cachedQueries(posts)).toBe(1);
  });

  it("$executeRawUnsafe and writing $queryRaw invalidate; a SELECT through $queryRaw does not", async () => {
    await b.prisma.$executeRawUnsafe(`UPDATE "User" SET name = 'unsafe' WHERE id = ${user.id}`);
    expect((await read(a.prisma))?.name).toBe("unsafe");
    await b.prisma.$queryRaw`UPDATE "User" SET name = ${"returning"} WHERE id = ${user.id} RETURNING id`;
    expect((await read(a.prisma))?.name).toBe("returning");
    await b.prisma.$queryRaw`SELECT 1`;
    expect(await cachedQueries(read)).toBe(0);
  });

  it("a write keyword split between the template and an interpolated fragment invalidates, as Prisma runs it joined (outside probe 264: a DELETE taken for a read)", async () => {
    const count = await posts(a.prisma);
    await b.prisma.$queryRaw`DEL${Prisma.raw(`ETE FROM "Post" WHERE id = (SELECT min(id) FROM "Post" WHERE "authorId" = ${user.id}) RETURNING id`)}`;
    expect(await posts(a.prisma)).toBe(count - 1);
  });

  it("$cache.raw() limits a raw statement to the models it names and those the database changes in turn", async () => {
    // Nothing references a Comment: naming it leaves users and posts cached.
    await b.prisma.$cache.raw(["Comment"], b.prisma.$executeRaw`UPDATE "Comment" SET body = ${"named"} WHERE id = ${-1}`);
    expect(await cachedQueries(read)).toBe(0);
    expect(await cachedQueries(posts)).toBe(0);
    // A user's posts and comments follow it (onDelete: Cascade, and Prisma's default onUpdate: Cascade):
    // naming User alone also drops what a cascade of its statement would change (found by an outside probe).
    await b.prisma.$cache.raw(["User"], b.prisma.$executeRaw`UPDATE "User" SET name = ${"named"} WHERE id = ${user.id}`);
    expect((await read(a.prisma))?.name).toBe("named");
    expect(await cachedQueries(posts)).toBe(1);
  });

  it("$cache.raw() naming the referenced model: a key change the database cascades is seen through the referencing model", async () => {
    const author = await seedUser(a.base);
    const post = await a.base.post.create({ data: { slug: `cascade-${Date.now()}-${Math.random()}`, title: "follows its author", authorId: author.id } });
    const authorOf = (p: typeof a.prisma) => p.post.findUnique({ where: { id: post.id }, select: { authorId: true } });
    await authorOf(a.prisma);
    expect(await cachedQueries(authorOf)).toBe(0);
    const moved = author.id + 1_000_000;
    await b.prisma.$cache.raw(["User"], b.prisma.$executeRaw`UPDATE "User" SET id = ${moved} WHERE id = ${author.id}`);
    expect((await authorOf(a.prisma))?.authorId).toBe(moved);
  });

  it("$cache.raw() over a statement already named: both calls' models are invalidated (outside probe 267: the second replaced the first's)", async () => {
    await b.prisma.$cache.raw(["Comment"], b.prisma.$cache.raw(["User"], b.prisma.$executeRaw`UPDATE "User" SET name = ${"named twice"} WHERE id = ${user.id}`));
    expect((await read(a.prisma))?.name).toBe("named twice");
  });

  it("$cache.raw() returns the statement as Prisma does: lazy, and an element a $transaction batch takes", async () => {
    // Not awaited: it must not run (an async wrapper used to start it at once).
    void b.prisma.$cache.raw(["User"], b.prisma.$executeRaw`UPDATE "User" SET name = ${"never awaited"} WHERE id = ${user.id}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await b.base.user.findUnique({ where: { id: user.id } }))?.name).not.toBe("never awaited");
    await b.prisma.$transaction([
      b.prisma.post.updateMany({ where: { authorId: user.id }, data: { title: "in batch" } }),
      b.prisma.$cache.raw(["User"], b.prisma.$executeRaw`UPDATE "User" SET name = ${"batched"} WHERE id = ${user.id}`),
    ]);
    expect((await read(a.prisma))?.name).toBe("batched");
    expect(await cachedQueries(posts)).toBe(1);
    await expect(b.prisma.$cache.raw(["Nope"] as never, b.prisma.$executeRaw`SELECT 1`)).rejects.toThrow(/Nope/);
    // In a batch, the batch rejects with that error (it was an unhandled rejection, which ends a process).
    await expect(b.prisma.$transaction([b.prisma.$cache.raw(["Nope"] as never, b.prisma.$executeRaw`SELECT 1`)])).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT", argument: "models" });
    void b.prisma.$cache.raw(["Nope"] as never, b.prisma.$executeRaw`SELECT 1`);
  });

  it("invalidate({ models }) and invalidate({ tags })", async () => {
    await b.prisma.$cache.invalidate({ models: ["Post"] });
    expect(await cachedQueries(posts)).toBe(1);
    expect(await cachedQueries(read)).toBe(0);
    await b.prisma.$cache.invalidate({ model: "User" });
    expect(await cachedQueries(read)).toBe(1);
    // A change to users the cache did not see may have cascaded to their posts.
    expect(await cachedQueries(posts)).toBe(1);
    const tagged = (p: typeof a.prisma) => p.user.count({ where: { id: user.id }, cache: { tags: ["team-7"] } });
    await tagged(a.prisma);
    expect(await cachedQueries(tagged)).toBe(0);
    await b.prisma.$cache.invalidate({ tags: ["team-7"] });
    expect(await cachedQueries(tagged)).toBe(1);
    await expect(b.prisma.$cache.invalidate({ models: ["Nope"] })).rejects.toThrow(/Nope/);
    // A name that is not a string is named as such, not printed as the model it holds (outside probe 124).
    await expect(b.prisma.$cache.rebuildBloom(["User"] as never)).rejects.toThrow(/expected a model name, got an array/);
    await expect(b.prisma.$cache.invalidate({ models: [7] as never })).rejects.toThrow(/expected a model name, got 7$/);
    // Values JSON cannot spell are told all the same, with the typed error (outside probe 283: JSON's TypeError).
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    await expect(b.prisma.$cache.invalidate({ models: [[1n]] } as never)).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT", message: expect.stringMatching(/got an array \(\[1n \(a bigint\)\]\)$/) });
    await expect(b.prisma.$cache.invalidate({ model: cyclic } as never)).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT" });
    await expect(b.prisma.$cache.rebuildBloom([1n] as never)).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT" });
    await expect(b.prisma.$cache.topQueries({ model: [1n] } as never)).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT" });
    // A misspelt key would invalidate nothing: refused, naming it.
    await expect(b.prisma.$cache.invalidate({ modle: "User" } as never)).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT", argument: "modle" });
    // null is refused as a value, not taken for "none"; an array is no target (outside probe 267: `tags: null` was taken, and `["User"]` blamed an argument "0").
    for (const key of ["model", "models", "tags"]) {
      await expect(b.prisma.$cache.invalidate({ model: "User", [key]: null } as never)).rejects.toMatchObject({ code: "E_INVALID_ARGUMENT", argument: key, message: expect.stringMatching(/got null$/) });
    }
    await expect(b.prisma.$cache.invalidate(["User"] as never)).rejects.toMatchObject({ argument: "target", message: expect.stringMatching(/got an array$/) });
    // A member read through a getter is checked as it is read (outside probe 268: a getter's null was taken for no tags).
    class Target {
      model = "User";
      get tags() {
        return null;
      }
    }
    await expect(b.prisma.$cache.invalidate(new Target() as never)).rejects.toMatchObject({ argument: "tags", message: expect.stringMatching(/got null$/) });
    await expect(b.prisma.$cache.invalidate({ models: "User" } as never)).rejects.toMatchObject({ argument: "models", message: expect.stringMatching(/got "User"$/) });
  });

  it("a tag of any length: one of 5 000 characters is invalidated on every instance, and spoils nothing else (outside probe 123: names over 4 096 characters made every instance reject the message)", async () => {
    const long = `tenant-${"x".repeat(5_000)}`;
    const tagged = (p: typeof a.prisma) => p.user.count({ where: { id: user.id }, cache: { tags: [long] } });
    await tagged(a.prisma);
    expect(await cachedQueries(tagged)).toBe(0);
    const before = { a: a.prisma.$cache.stats(), b: b.prisma.$cache.stats() };
    await b.prisma.$cache.invalidate({ tags: [long] });
    expect(await cachedQueries(tagged)).toBe(1);
    // The untagged read kept its L1 entry: no instance rejected the message and forgot what it knew.
    expect(await cachedQueries(read)).toBe(0);
    for (const [name, client] of [["a", a], ["b", b]] as const) {
      expect(client.prisma.$cache.stats().rejectedMessages, name).toBe(before[name].rejectedMessages);
    }
    expect(b.prisma.$cache.stats().invalidationAckTimeouts).toBe(before.b.invalidationAckTimeouts);
  });
});

describe("invalidation with any TTL", () => {
  it("delivers invalidations whatever the lifetimes add up to (ttl 3600 s with 10% jitter is not a whole number of ms)", async () => {
    const namespace = uniqueNamespace();
    const options = { namespace, ttl: 3600, jitter: 0.1, models: { User: true } };
    const a = createCachedClient(options);
    const b = createCachedClient(options);
    try {
      const user = await seedUser(a.base);
      const read = (c: typeof a) => c.prisma.user.findUnique({ where: { id: user.id } });
      await read(a);
      await b.prisma.user.update({ where: { id: user.id }, data: { name: "after" } });
      // Two sends: the announcement before the database write, the confirmation after it.
      expect(b.prisma.$cache.stats()).toMatchObject({ invalidationsSent: 2, invalidationsQueued: 0 });
      expect((await read(a))?.name).toBe("after");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
