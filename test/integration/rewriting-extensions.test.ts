import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { CacheConfigError, cacheExtension } from "../../src/index.ts";
import { FinalArgsProbe } from "../../src/prisma/final-args.ts";
import { createBaseClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";

/**
 * Issue 10, item 9: other extensions' query hooks rewrite arguments, as applications write them:
 * row visibility (only posts of active authors), and a write hook that touches the author.
 */
const visibility = Prisma.defineExtension({
  name: "visibility",
  query: {
    post: {
      async $allOperations({ operation, args, query }) {
        if (["findMany", "findFirst", "count"].includes(operation)) {
          const where = (args as { where?: object }).where;
          return query({ ...args, where: { AND: [where ?? {}, { author: { active: true } }] } } as never);
        }
        if (operation === "update") {
          const data = (args as { data: object }).data;
          return query({ ...args, data: { ...data, author: { update: { version: { increment: 1 } } } } } as never);
        }
        return query(args);
      },
    },
  },
});

/** Soft delete as a model method (unpublishing stands in for a deletedAt column), applied before the cache too. */
const softDelete = Prisma.defineExtension({
  name: "soft-delete",
  model: {
    post: {
      async softDelete(this: unknown, id: number) {
        const context = Prisma.getExtensionContext(this) as unknown as { update(args: unknown): Promise<unknown> };
        return context.update({ where: { id }, data: { published: false } });
      },
    },
  },
});

describe("reads and writes rewritten by other extensions depend on what actually runs", () => {
  const namespace = uniqueNamespace();
  const redis = createRedis();
  const instances = [0, 1, 2].map((i) => {
    const { base, pool } = createBaseClient();
    const prisma = base.$extends(visibility).$extends(softDelete).$extends(cacheExtension({ namespace, redis, models: { User: true, Post: true }, ...(i === 2 ? { l1: false as const } : {}) }));
    return { base, pool, prisma, plain: base.$extends(visibility) };
  });
  const [writer, l1Reader, redisReader] = instances as [(typeof instances)[0], (typeof instances)[0], (typeof instances)[0]];
  let alice: Awaited<ReturnType<typeof seedUser>>;

  beforeAll(async () => {
    alice = await seedUser(writer.base);
  });
  afterAll(async () => {
    for (const instance of instances) {
      await instance.prisma.$cache.close();
      await instance.base.$disconnect();
    }
    redis.disconnect();
  });

  /** Reads until the read is served from the cache (the first load of a rewritten read is not stored). */
  async function readUntilCached<T>(reader: (typeof instances)[0], read: (p: (typeof instances)[0]["prisma"]) => PromiseLike<T>) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = reader.pool.queries;
      await read(reader.prisma);
      if (reader.pool.queries === before) return;
    }
    throw new Error("the read never became cached");
  }

  it("a visibility condition on the author: deactivating the author empties the cached post list", async () => {
    const read = (p: (typeof instances)[0]["prisma"]) => p.post.findMany({ where: { authorId: alice.id }, orderBy: { id: "asc" } });
    for (const reader of [l1Reader, redisReader]) {
      await readUntilCached(reader, read);
      expect(await read(reader.prisma)).toHaveLength(2);
    }
    await writer.prisma.user.update({ where: { id: alice.id }, data: { active: false } });
    const expected = await read(writer.plain as never);
    expect(expected).toEqual([]);
    expect(await read(l1Reader.prisma), "from L1").toEqual(expected);
    expect(await read(redisReader.prisma), "from Redis").toEqual(expected);
    expect(l1Reader.prisma.$cache.stats().bypasses["query reached more than its arguments"]).toBeGreaterThanOrEqual(1);
    await writer.prisma.user.update({ where: { id: alice.id }, data: { active: true } });
    expect(await read(l1Reader.prisma)).toHaveLength(2);
    expect(await read(redisReader.prisma)).toHaveLength(2);
  });

  it("a nested write added by another extension's hook invalidates the model it touches", async () => {
    const read = (p: (typeof instances)[0]["prisma"]) => p.user.findUnique({ where: { id: alice.id } });
    for (const reader of [l1Reader, redisReader]) await readUntilCached(reader, read);
    await writer.prisma.post.update({ where: { id: alice.posts[0]!.id }, data: { title: "touched" } });
    const expected = await writer.base.user.findUnique({ where: { id: alice.id } });
    expect(expected?.version).toBe(alice.version + 1);
    expect(await read(l1Reader.prisma), "from L1").toEqual(expected);
    expect(await read(redisReader.prisma), "from Redis").toEqual(expected);
  });

  it("a soft delete written as a model method of an earlier extension goes through the cache's writes", async () => {
    const read = (p: (typeof instances)[0]["prisma"]) => p.post.findMany({ where: { authorId: alice.id, published: true }, orderBy: { id: "asc" } });
    for (const reader of [l1Reader, redisReader]) await readUntilCached(reader, read);
    const [published] = await read(l1Reader.prisma);
    expect(await read(l1Reader.prisma)).toHaveLength(1);
    await writer.prisma.post.softDelete(published!.id);
    expect(await read(l1Reader.prisma), "from L1").toEqual([]);
    expect(await read(redisReader.prisma), "from Redis").toEqual([]);
  });
});

/** Answers a post's findUnique with a findFirst on the hook's own client, adding a visibility condition (found by an outside probe). */
const visibleThroughFindFirst = Prisma.defineExtension((client) =>
  client.$extends({
    name: "visible-through-findFirst",
    query: {
      post: {
        findUnique: ({ args }) => client.post.findFirst({ ...args, where: { ...args.where, author: { active: true } } } as never) as never,
      },
    },
  }),
);

/** Looks users up by email case-insensitively: findUnique answered with a findFirst. */
const caseInsensitiveEmail = Prisma.defineExtension((client) =>
  client.$extends({
    name: "case-insensitive-email",
    query: {
      user: {
        findUnique: ({ args, query }) => {
          const email = (args.where as { email?: unknown }).email;
          if (typeof email !== "string") return query(args);
          return client.user.findFirst({ ...args, where: { email: { equals: email, mode: "insensitive" } } } as never) as never;
        },
      },
    },
  }),
);

/** A soft delete that answers a user's delete with an update on its own client, renaming the email. */
const renamingSoftDelete = Prisma.defineExtension((client) =>
  client.$extends({
    name: "renaming-soft-delete",
    query: {
      user: {
        delete: ({ args }) => client.user.update({ where: args.where, data: { email: `deleted-${randomUUID()}@example.com`, active: false } }) as never,
      },
    },
  }),
);

/** A read replica that lags: it answers from a copy taken earlier while `lagging` holds rows, else runs the query. */
function laggingReplica(lagging: Map<number, unknown>) {
  return Prisma.defineExtension({
    name: "lagging-replica",
    query: { user: { findUnique: ({ args, query }) => (lagging.has((args.where as { id: number }).id) ? Promise.resolve(lagging.get((args.where as { id: number }).id)) : query(args)) as never } },
  });
}

describe("a read another extension's hook answers without running it is served and not stored", () => {
  const namespace = uniqueNamespace();
  const redis = createRedis();
  const lagging = new Map<number, unknown>();
  const instances = [0, 1].map((i) => {
    const { base, pool } = createBaseClient();
    const below = base.$extends(visibleThroughFindFirst).$extends(caseInsensitiveEmail).$extends(laggingReplica(lagging)).$extends(renamingSoftDelete);
    const prisma = below.$extends(cacheExtension({ namespace, redis, models: { User: true, Post: true }, ...(i === 1 ? { l1: false as const } : {}) }));
    return { base, pool, prisma, plain: below };
  });
  const [writer, reader] = instances as [(typeof instances)[0], (typeof instances)[0]];
  afterAll(async () => {
    for (const instance of instances) {
      await instance.prisma.$cache.close();
      await instance.base.$disconnect();
    }
    redis.disconnect();
  });

  it("a findFirst with a visibility condition through a relation: deactivating the author hides the post", async () => {
    const alice = await seedUser(writer.base);
    const read = (p: (typeof instances)[0]["prisma"]) => p.post.findUnique({ where: { id: alice.posts[0]!.id } });
    for (const instance of instances) {
      expect(await read(instance.prisma)).not.toBeNull();
      expect(await read(instance.prisma)).not.toBeNull();
    }
    await writer.prisma.user.update({ where: { id: alice.id }, data: { active: false } });
    expect(await read(writer.plain as never)).toBeNull();
    for (const instance of instances) expect(await read(instance.prisma)).toBeNull();
    expect(writer.prisma.$cache.stats().bypasses["answered by another extension"]).toBeGreaterThanOrEqual(2);
  });

  it("a case-insensitive lookup by email: an update by id is seen through the upper-cased email", async () => {
    const bob = await seedUser(writer.base);
    const read = (p: (typeof instances)[0]["prisma"]) => p.user.findUnique({ where: { email: bob.email.toUpperCase() } });
    for (const instance of instances) {
      expect((await read(instance.prisma))?.name).toBe(bob.name);
      expect((await read(instance.prisma))?.name).toBe(bob.name);
    }
    await writer.prisma.user.update({ where: { id: bob.id }, data: { name: "Robert" } });
    expect((await read(writer.plain as never))?.name).toBe("Robert");
    for (const instance of instances) expect((await read(instance.prisma))?.name).toBe("Robert");
  });

  it("a write a hook answers by itself (a soft delete renaming the email): reads by the old email and by id see it", async () => {
    const dave = await seedUser(writer.base);
    const byEmail = (p: (typeof instances)[0]["prisma"]) => p.user.findUnique({ where: { email: dave.email } });
    const byId = (p: (typeof instances)[0]["prisma"]) => p.user.findUnique({ where: { id: dave.id } });
    for (const instance of instances) {
      for (const read of [byEmail, byEmail, byId, byId]) expect((await read(instance.prisma))?.active).toBe(true);
    }
    await writer.prisma.user.delete({ where: { id: dave.id } });
    expect(await byEmail(writer.plain as never)).toBeNull();
    for (const instance of instances) {
      expect(await byEmail(instance.prisma)).toBeNull();
      expect((await byId(instance.prisma))?.active).toBe(false);
    }
  });

  it("a lagging read replica: once it caught up, the written row is read, not the replica's old copy", async () => {
    const carol = await seedUser(writer.base);
    const read = (p: (typeof instances)[0]["prisma"]) => p.user.findUnique({ where: { id: carol.id } });
    const { posts: _posts, ...copy } = carol;
    lagging.set(carol.id, copy);
    await writer.prisma.user.update({ where: { id: carol.id }, data: { name: "Caroline" } });
    // While the replica lags, every client reads its old copy, the cache's as well as plain Prisma's.
    for (const instance of instances) expect((await read(instance.prisma))?.name).toBe(carol.name);
    lagging.delete(carol.id);
    expect((await read(writer.plain as never))?.name).toBe("Caroline");
    for (const instance of instances) expect((await read(instance.prisma))?.name).toBe("Caroline");
  });
});

/** Looks a user up by email as given, then, if absent, once more with the email lower-cased: a retry with other arguments. */
const retryLowerCased = Prisma.defineExtension({
  name: "retry-lower-cased",
  query: {
    user: {
      async findUnique({ args, query }) {
        const found = await query(args);
        const email = (args.where as { email?: unknown }).email;
        return found ?? (typeof email === "string" ? query({ ...args, where: { email: email.toLowerCase() } } as never) : null);
      },
    },
  },
});

describe("a read another extension's hook runs again with other arguments", () => {
  it("is served, not stored under the caller's arguments: an update of the row it found is seen", async () => {
    const namespace = uniqueNamespace();
    const redis = createRedis();
    const instances = [0, 1].map((i) => {
      const { base, pool } = createBaseClient();
      return { base, pool, prisma: base.$extends(retryLowerCased).$extends(cacheExtension({ namespace, redis, models: { User: true }, ...(i === 1 ? { l1: false as const } : {}) })) };
    });
    try {
      const user = await seedUser(instances[0]!.base);
      const read = (p: (typeof instances)[0]["prisma"]) => p.user.findUnique({ where: { email: user.email.toUpperCase() } });
      for (const { prisma } of instances) {
        expect((await read(prisma))?.name).toBe(user.name);
        expect((await read(prisma))?.name).toBe(user.name);
      }
      await instances[0]!.prisma.user.update({ where: { email: user.email }, data: { name: "renamed" } });
      for (const { prisma } of instances) expect((await read(prisma))?.name).toBe("renamed");
    } finally {
      for (const { prisma, base } of instances) {
        await prisma.$cache.close();
        await base.$disconnect();
      }
      redis.disconnect();
    }
  });
});

describe("the final-arguments probe", () => {
  it("sees the arguments a hook of one operation rewrote", async () => {
    const { base, pool } = createBaseClient();
    const stamped = base.$extends({
      query: { user: { update: ({ args, query }) => query({ ...args, data: { ...args.data, name: "stamped by a hook" } }) } },
    });
    const probe = new FinalArgsProbe(stamped);
    try {
      const user = await seedUser(base);
      const seen: unknown[] = [];
      const updateArgs = { where: { id: user.id }, data: { version: { increment: 1 } } };
      const updated = (await probe.run("user", "User", "update", updateArgs, { onFinalArgs: (args) => void seen.push(args) })) as { name: string };
      expect(updated.name).toBe("stamped by a hook");
      expect(seen).toEqual([{ ...updateArgs, data: { version: { increment: 1 }, name: "stamped by a hook" } }]);
      // An operation no hook touches runs as called, without the probe's hook: nothing to report.
      const read = (await probe.run("user", "User", "findUnique", { where: { id: user.id } }, { onFinalArgs: (args) => void seen.push(args) })) as { id: number };
      expect(read.id).toBe(user.id);
      expect(seen).toHaveLength(1);
    } finally {
      await base.$disconnect();
      await pool.end().catch(() => {});
    }
  });
});

/** Masks `email` in every result, in place (PII redaction), as a query hook. */
const maskingHook = Prisma.defineExtension({
  name: "masking-hook",
  query: {
    $allModels: {
      async $allOperations({ args, query }) {
        const result = await query(args);
        for (const row of (Array.isArray(result) ? result : [result]) as Array<{ email?: unknown } | null>) if (typeof row?.email === "string") row.email = row.email.replace(/^[^@]+/, "***");
        return result;
      },
    },
  },
});

/** Two instances sharing a namespace, each `extension` then the cache: the first with L1, the second reading Redis only. */
function twoInstancesBehind(extension: Parameters<ReturnType<typeof createBaseClient>["base"]["$extends"]>[0]) {
  const namespace = uniqueNamespace();
  const redis = createRedis();
  const clients = [0, 1].map((i) => {
    const { base } = createBaseClient();
    return { base, prisma: base.$extends(extension as typeof maskingHook).$extends(cacheExtension({ namespace, redis, models: { User: true }, ...(i === 1 ? { l1: false as const } : {}) })) };
  });
  const close = async () => {
    for (const client of clients) {
      await client.prisma.$cache.close();
      await client.base.$disconnect();
    }
    redis.disconnect();
  };
  return { clients: clients as [(typeof clients)[0], (typeof clients)[0]], close };
}

describe("a result extension applied before the cache that computes a unique field", () => {
  /** Masks `email` in every result: a write's result no longer spells the identity readers use. */
  const masking = Prisma.defineExtension({
    name: "masking",
    result: { user: { email: { needs: { email: true }, compute: (user) => user.email.replace(/^[^@]+/, "***") } } },
  });

  it("a write by id invalidates the cached reads by email (this instance's L1 and another's Redis)", async () => {
    const { clients, close } = twoInstancesBehind(masking);
    try {
      const [writer, redisReader] = clients;
      const user = await seedUser(writer.base);
      for (const client of clients) for (let i = 0; i < 2; i++) expect((await client.prisma.user.findUnique({ where: { email: user.email } }))?.email).toMatch(/^\*\*\*@/);
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "renamed" } });
      expect((await writer.prisma.user.findUnique({ where: { email: user.email } }))?.name, "from L1").toBe("renamed");
      expect((await redisReader.prisma.user.findUnique({ where: { email: user.email } }))?.name, "from Redis").toBe("renamed");
    } finally {
      await close();
    }
  });

  it("refuses a Bloom guard on such a model, naming the option (it would learn the computed values)", async () => {
    const { base } = createBaseClient();
    try {
      let error: unknown;
      try {
        const prisma = base.$extends(masking).$extends(cacheExtension({ namespace: uniqueNamespace(), models: { User: { bloom: true } } }));
        await prisma.user.findUnique({ where: { email: "nobody@example.com" } });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CacheConfigError);
      expect((error as CacheConfigError).option).toBe("models.User.bloom");
      expect((error as Error).message).toContain("`email`");
    } finally {
      await base.$disconnect();
    }
  });
});

describe("a query hook applied before the cache that rewrites results (PII masking, in place)", () => {
  it("writes by id invalidate the cached reads by the real email: updates (alone, in a batch, in an interactive transaction), then a delete (this instance's L1 and another's Redis)", async () => {
    const { clients, close } = twoInstancesBehind(maskingHook);
    try {
      const [writer] = clients;
      const user = await seedUser(writer.base);
      const byEmail = { where: { email: user.email } };
      for (const client of clients) for (let i = 0; i < 2; i++) expect((await client.prisma.user.findUnique(byEmail))?.email).toMatch(/^\*\*\*@/);
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "renamed" } });
      for (const [i, client] of clients.entries()) expect((await client.prisma.user.findUnique(byEmail))?.name, i === 0 ? "from L1" : "from Redis").toBe("renamed");
      // Inside transactions (where writes run without the probe), batch and interactive.
      await writer.prisma.$transaction([writer.prisma.user.update({ where: { id: user.id }, data: { name: "in a batch" } })]);
      for (const [i, client] of clients.entries()) expect((await client.prisma.user.findUnique(byEmail))?.name, i === 0 ? "from L1" : "from Redis").toBe("in a batch");
      await writer.prisma.$transaction((tx) => tx.user.update({ where: { id: user.id }, data: { name: "interactive" } }));
      for (const [i, client] of clients.entries()) expect((await client.prisma.user.findUnique(byEmail))?.name, i === 0 ? "from L1" : "from Redis").toBe("interactive");
      await writer.prisma.user.delete({ where: { id: user.id } });
      for (const [i, client] of clients.entries()) expect(await client.prisma.user.findUnique(byEmail), i === 0 ? "from L1" : "from Redis").toBeNull();
    } finally {
      await close();
    }
  });
});

describe("a Bloom guard under other extensions' query hooks", () => {
  /** Row visibility on findMany only: findUnique still finds inactive users. */
  const activeOnlyLists = Prisma.defineExtension({
    name: "active-only-lists",
    query: { user: { findMany: ({ args, query }) => query({ ...args, where: { AND: [args.where ?? {}, { active: true }] } }) } },
  });

  it("is not asked for reads another extension's hook rewrites (a lower-cased email): the caller's where is not what runs", async () => {
    const lowerCaseEmails = Prisma.defineExtension({
      name: "lower-case-emails",
      query: { user: { findUnique: ({ args, query }) => query({ ...args, where: { ...args.where, email: args.where.email?.toLowerCase() } } as never) } },
    });
    const { base } = createBaseClient();
    const user = await seedUser(base);
    const prisma = base.$extends(lowerCaseEmails).$extends(cacheExtension({ namespace: uniqueNamespace(), models: { User: { bloom: true } } }));
    try {
      await prisma.$cache.prepareBloom();
      expect((await prisma.user.findUnique({ where: { email: user.email.toUpperCase() } }))?.id).toBe(user.id);
    } finally {
      await prisma.$cache.close();
      await base.$disconnect();
    }
  });

  it("holds every identity in the table: rows a findMany hook hides and values a hook masks are found", async () => {
    for (const [name, extension] of [["visibility on findMany", activeOnlyLists], ["masking", maskingHook]] as const) {
      const { base } = createBaseClient();
      const hidden = await seedUser(base);
      await base.user.update({ where: { id: hidden.id }, data: { active: false } });
      const prisma = base.$extends(extension).$extends(cacheExtension({ namespace: uniqueNamespace(), models: { User: { bloom: true } } }));
      try {
        await prisma.$cache.prepareBloom();
        expect((await prisma.user.findUnique({ where: { id: hidden.id } }))?.id, `${name}: by id`).toBe(hidden.id);
        expect((await prisma.user.findUnique({ where: { email: hidden.email } }))?.id, `${name}: by email`).toBe(hidden.id);
        await expect(prisma.user.findUniqueOrThrow({ where: { email: hidden.email } }), `${name}: OrThrow`).resolves.toMatchObject({ id: hidden.id });
        // Created through the cache: the guard learns the identity the database stored.
        const created = await prisma.user.create({ data: { email: `created-${uniqueNamespace()}@example.com` } });
        const email = (await base.user.findUniqueOrThrow({ where: { id: created.id } })).email;
        expect((await prisma.user.findUnique({ where: { email } }))?.id, `${name}: created`).toBe(created.id);
      } finally {
        await prisma.$cache.close();
        await base.$disconnect();
      }
    }
  });
});

describe("a computed field whose value is a function (an outside probe)", () => {
  it("is served as Prisma serves it, never cached, counted on every read and reported once", async () => {
    const { base } = createBaseClient();
    const errors: string[] = [];
    const withMethod = base.$extends({ result: { user: { greet: { needs: { name: true }, compute: (user) => () => `hello ${user.name}` } } } });
    const prisma = withMethod.$extends(cacheExtension({ namespace: uniqueNamespace(), models: { User: true }, onError: (error) => errors.push(error.code) }));
    try {
      const user = await seedUser(base, { name: "Ada" });
      for (let i = 0; i < 3; i++) expect((await prisma.user.findUnique({ where: { id: user.id } }))?.greet()).toBe("hello Ada");
      expect(prisma.$cache.stats()).toMatchObject({ encodeFailures: 3, dbLoads: 3, l1Hits: 0 });
      expect(errors.filter((code) => code === "E_UNENCODABLE_RESULT")).toHaveLength(1);
    } finally {
      await prisma.$cache.close();
      await base.$disconnect();
    }
  });
});

describe("computed fields whose values JSON cannot carry as they are (outside probe 149)", () => {
  it("come back from L1 and from Redis as Prisma computes them, or are never cached", async () => {
    const { base } = createBaseClient();
    const redis = createRedis();
    // An app's own decimal.js class (Decimal.clone() makes one, as a second copy of decimal.js would).
    const AppDecimal = Prisma.Decimal.clone({ precision: 40 });
    const symbol = Symbol("audit");
    const needs = { id: true, name: true } as const;
    const computed = Prisma.defineExtension({
      result: {
        user: {
          token: { needs, compute: (user) => Buffer.from(`token-${user.id}`) },
          price: { needs, compute: (user) => new AppDecimal(user.id).div(3) },
          optional: { needs, compute: (user) => ({ nickname: undefined, id: user.id }) },
          slots: { needs, compute: (user) => [user.id, undefined] },
          bare: { needs, compute: (user) => Object.assign(Object.create(null) as object, { id: user.id }) },
          tagged: { needs, compute: (user) => ({ [symbol]: user.id, id: user.id }) },
          sparse: { needs, compute: (user) => { const list: number[] = [user.id]; list[2] = user.id; return list; } },
        },
      },
    });
    const namespace = uniqueNamespace();
    const plain = base.$extends(computed);
    const first = base.$extends(computed).$extends(cacheExtension({ redis, namespace, models: { User: true } }));
    const second = base.$extends(computed).$extends(cacheExtension({ redis, namespace, models: { User: true }, l1: false }));
    try {
      const user = await seedUser(base, { name: "Ada" });
      const selections = {
        exact: { select: { id: true, token: true, optional: true, slots: true } },
        refused: { select: { id: true, price: true, bare: true, tagged: true, sparse: true } },
      } as const;
      const describeRow = (row: Record<string, unknown>) => {
        const described: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(row)) {
          if (Buffer.isBuffer(value)) described[key] = `Buffer ${value.toString("base64")}`;
          else if (value instanceof Prisma.Decimal || value instanceof AppDecimal) described[key] = `${value.constructor === AppDecimal ? "app" : "prisma"} decimal ${value.toString()}`;
          else if (Array.isArray(value)) described[key] = { length: value.length, present: value.map((_, i) => i), values: [...value] };
          else if (typeof value === "object" && value !== null) described[key] = { proto: Object.getPrototypeOf(value) === null ? "null" : "object", keys: Reflect.ownKeys(value).map(String), values: { ...value } };
          else described[key] = value;
        }
        return described;
      };
      for (const [name, args] of Object.entries(selections)) {
        const expected = describeRow((await plain.user.findUnique({ where: { id: user.id }, ...args })) as Record<string, unknown>);
        for (let round = 0; round < 3; round++) {
          const fromFirst = (await first.user.findUnique({ where: { id: user.id }, ...args })) as Record<string, unknown>;
          const fromSecond = (await second.user.findUnique({ where: { id: user.id }, ...args })) as Record<string, unknown>;
          expect(describeRow(fromFirst), `${name}, round ${round}, first instance`).toEqual(expected);
          expect(describeRow(fromSecond), `${name}, round ${round}, second instance (Redis)`).toEqual(expected);
        }
      }
      // The exact selection was cached (hits in L1 and in Redis); the refused one loaded every time.
      expect(first.$cache.stats()).toMatchObject({ dbLoads: 1 + 3, encodeFailures: 3 });
      expect(second.$cache.stats().l2Hits).toBe(3);
    } finally {
      await Promise.all([first.$cache.close(), second.$cache.close()]);
      await base.$disconnect();
      redis.disconnect();
    }
  });
});

describe("a load that fails while other reads of the same key wait for it (outside probe 104)", () => {
  it("fails the read that ran it; the reads that joined it run their own query once more, as each would have without the cache", async () => {
    const { base } = createBaseClient();
    let calls = 0;
    // Another extension's hook below the cache whose first query fails, as a statement timeout behind a passing lock does.
    const flaky = base.$extends({
      query: {
        post: {
          async findMany({ args, query }) {
            if (++calls === 1) {
              await new Promise((resolve) => setTimeout(resolve, 50));
              throw new Error("canceling statement due to statement timeout");
            }
            return query(args);
          },
        },
      },
    });
    const prisma = flaky.$extends(cacheExtension({ namespace: uniqueNamespace(), models: { Post: true } }));
    try {
      const user = await seedUser(base);
      const read = () => prisma.post.findMany({ where: { authorId: user.id }, orderBy: { id: "asc" } });
      const first = read();
      await new Promise((resolve) => setTimeout(resolve, 10));
      const results = await Promise.allSettled([first, ...Array.from({ length: 7 }, read)]);
      expect(results.map((result) => result.status)).toEqual(["rejected", ...Array(7).fill("fulfilled")]);
      for (const result of results.slice(1)) expect((result as PromiseFulfilledResult<Array<{ id: number }>>).value.map((post) => post.id)).toEqual(user.posts.map((post) => post.id));
      expect(calls, "the seven share one more query").toBe(2);
    } finally {
      await prisma.$cache.close();
      await base.$disconnect();
    }
  });
});
