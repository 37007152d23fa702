import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accelerateCompat, cacheExtension } from "../../src/index.ts";
import { Prisma } from "../../prisma/generated/client.ts";
import { createBaseClient } from "../helpers/client.ts";
import { configErrorOf } from "../helpers/config-error.ts";
import { createFleet } from "../helpers/fleet.ts";
import { seedUser } from "../helpers/seed.ts";

type Seeded = Awaited<ReturnType<typeof seedUser>>;

/** Issue 10, items 1, 3, 6 and 11: what a read reaches and what a write touches, whatever the argument shape. */
describe("dependencies of every argument shape", () => {
  const fleet = createFleet();
  const { writer, expectFresh } = fleet;
  let alice: Seeded;

  beforeAll(async () => {
    alice = await seedUser(writer.base);
  });
  afterAll(() => fleet.close());

  const slug = () => `s-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

  describe("_count: true reaches every relation it counts", () => {
    it("in include", async () => {
      const counted = await expectFresh(
        (p) => p.user.findUnique({ where: { id: alice.id }, include: { _count: true } }),
        () => writer.prisma.post.create({ data: { slug: slug(), title: "counted", authorId: alice.id } }),
      );
      expect(counted?._count.posts).toBe(3);
    });

    it("in select", async () => {
      await expectFresh(
        (p) => p.user.findMany({ where: { id: alice.id }, select: { id: true, _count: true } }),
        () => writer.prisma.comment.create({ data: { body: "counted", postId: alice.posts[0]!.id, authorId: alice.id } }),
      );
    });

    it("nested inside an include", async () => {
      await expectFresh(
        (p) => p.user.findUnique({ where: { id: alice.id }, include: { posts: { orderBy: { id: "asc" }, include: { _count: true } } } }),
        () => writer.prisma.comment.create({ data: { body: "nested count", postId: alice.posts[1]!.id, authorId: alice.id } }),
      );
    });

    it("_count with a relation filter", async () => {
      await expectFresh(
        (p) => p.user.findUnique({ where: { id: alice.id }, select: { _count: { select: { posts: { where: { comments: { some: { body: { startsWith: "filtered" } } } } } } } } }),
        () => writer.prisma.comment.create({ data: { body: "filtered", postId: alice.posts[1]!.id, authorId: alice.id } }),
      );
    });
  });

  describe("class instances (DTOs) as arguments", () => {
    class CreatePostDto {
      constructor(
        readonly slug: string,
        readonly title: string,
      ) {}
    }
    class UpdateUserDto {
      readonly posts: { create: CreatePostDto };
      constructor(
        readonly name: string,
        post: CreatePostDto,
      ) {
        this.posts = { create: post };
      }
    }

    it("a nested create inside a DTO's data invalidates the created model's reads", async () => {
      await expectFresh(
        (p) => p.post.findMany({ where: { authorId: alice.id }, orderBy: { id: "asc" } }),
        () => writer.prisma.user.update({ where: { id: alice.id }, data: new UpdateUserDto("dto", new CreatePostDto(slug(), "from a DTO")) as never }),
      );
    });

    it("a DTO as a read's where is cached like the plain object, and depends on the relations it names", async () => {
      class PostFilter {
        readonly author: { name: string };
        constructor(name: string) {
          this.author = { name };
        }
      }
      const read = (p: typeof writer.prisma) => p.post.findMany({ where: new PostFilter("dto") as never, orderBy: { id: "asc" } });
      const hits = fleet.l1Reader.prisma.$cache.stats().hits;
      await read(fleet.l1Reader.prisma);
      await read(fleet.l1Reader.prisma);
      expect(fleet.l1Reader.prisma.$cache.stats().hits).toBe(hits + 1);
      const posts = await expectFresh(read, () => writer.prisma.user.update({ where: { id: alice.id }, data: { name: "renamed" } }));
      expect(posts).toEqual([]);
    });
  });

  describe("$queryRaw is inspected in full: interpolated fragments, CTEs, functions", () => {
    const read = (p: typeof writer.prisma) => p.user.findUnique({ where: { id: alice.id } });
    it("an UPDATE interpolated as a Prisma.sql fragment", async () => {
      const user = await expectFresh(read, () => writer.prisma.$queryRaw`${Prisma.sql`UPDATE "User" SET name = ${"fragment"} WHERE id = ${alice.id}`} RETURNING id`);
      expect(user?.name).toBe("fragment");
    });

    it("an UPDATE in a CTE through Prisma.raw", async () => {
      const user = await expectFresh(read, () => writer.prisma.$queryRaw`WITH changed AS (${Prisma.raw(`UPDATE "User" SET name = 'cte' WHERE id = ${alice.id} RETURNING id`)}) SELECT id FROM changed`);
      expect(user?.name).toBe("cte");
    });

    it("a Prisma.sql statement passed whole, with Prisma.join", async () => {
      const user = await expectFresh(read, () => writer.prisma.$queryRaw(Prisma.sql`UPDATE "User" SET name = ${"joined"} WHERE id IN (${Prisma.join([alice.id, -1])}) RETURNING id`));
      expect(user?.name).toBe("joined");
    });

    it("a SELECT of a function that writes", async () => {
      await writer.base.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION rename_user(uid int, n text) RETURNS int LANGUAGE sql AS 'UPDATE "User" SET name = n WHERE id = uid RETURNING id'`);
      const user = await expectFresh(read, () => writer.prisma.$queryRaw`SELECT rename_user(${alice.id}, ${"by function"})`);
      expect(user?.name).toBe("by function");
    });

    describe("a writing function the inspection takes for a built-in, named with $cache.raw (outside probe 286: it ran as a read)", () => {
      // `lower(int, text)` overloads the built-in's name: the text shows a read-only call.
      const lowerThatWrites = `CREATE OR REPLACE FUNCTION lower(uid int, n text) RETURNS int LANGUAGE sql AS 'UPDATE "User" SET name = n WHERE id = uid RETURNING id'`;
      const call = (p: typeof writer.prisma, name: string) => p.$queryRaw`SELECT lower(${alice.id}::int, ${name}::text)`;
      beforeAll(() => writer.base.$executeRawUnsafe(lowerThatWrites));
      afterAll(() => writer.base.$executeRawUnsafe("DROP FUNCTION IF EXISTS lower(int, text)"));

      it("awaited on its own", async () => {
        const user = await expectFresh(read, () => writer.prisma.$cache.raw(["User"], call(writer.prisma, "named read")));
        expect(user?.name).toBe("named read");
      });

      it("in an interactive transaction", async () => {
        const user = await expectFresh(read, () => writer.prisma.$transaction(async (tx) => writer.prisma.$cache.raw(["User"], call(tx as never, "named in a transaction"))));
        expect(user?.name).toBe("named in a transaction");
      });

      it("in a batch $transaction([...])", async () => {
        const user = await expectFresh(read, () => writer.prisma.$transaction([writer.prisma.$cache.raw(["User"], call(writer.prisma, "named in a batch"))]));
        expect(user?.name).toBe("named in a batch");
      });

      it("named with no model, it stays a read", async () => {
        await read(fleet.l1Reader.prisma);
        const before = fleet.l1Reader.pool.queries;
        await writer.prisma.$cache.raw([], writer.prisma.$queryRaw`SELECT lower(${"X"})`);
        await read(fleet.l1Reader.prisma);
        expect(fleet.l1Reader.pool.queries).toBe(before);
      });
    });

    it("a function that writes, its quoted name glued to the keyword before it, or behind a comment after a quoted /* (outside probe 289: taken for reads)", async () => {
      await writer.base.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION rename_user(uid int, n text) RETURNS int LANGUAGE sql AS 'UPDATE "User" SET name = n WHERE id = uid RETURNING id'`);
      const glued = await expectFresh(read, () => writer.prisma.$queryRaw`SELECT"rename_user"(${alice.id}::int, ${"glued"}::text)`);
      expect(glued?.name).toBe("glued");
      const commented = await expectFresh(read, () => writer.prisma.$queryRawUnsafe(`SELECT '/*', rename_user/* why */($1::int, $2::text)`, alice.id, "behind a comment"));
      expect(commented?.name).toBe("behind a comment");
    });

    it("a locking SELECT … FOR UPDATE and plain built-ins invalidate nothing", async () => {
      await read(fleet.l1Reader.prisma);
      const before = fleet.l1Reader.pool.queries;
      await writer.prisma.$transaction(async (tx) => tx.$queryRaw`SELECT id, lower(name) FROM "User" WHERE id = ${alice.id} FOR UPDATE`);
      await writer.prisma.$queryRaw`SELECT count(*), max("createdAt") FROM "Post" WHERE "authorId" IN (${Prisma.join([alice.id])})`;
      // A function the inspection cannot know, declared by the caller to write nothing.
      await writer.prisma.$cache.raw([], writer.prisma.$queryRaw`SELECT pg_backend_pid(), ${"x"}::text`);
      await read(fleet.l1Reader.prisma);
      expect(fleet.l1Reader.pool.queries).toBe(before);
    });
  });

  it("a Json value with a __proto__ key comes back as plain Prisma returns it, from L1 and from Redis", async () => {
    const user = await seedUser(writer.base);
    await writer.base.$executeRaw`UPDATE "User" SET profile = ${'{"__proto__":{"isAdmin":true},"list":[{"__proto__":{"x":1}}]}'}::jsonb WHERE id = ${user.id}`;
    const read = (p: typeof writer.prisma) => p.user.findUnique({ where: { id: user.id } });
    const expected = await read(writer.base as never);
    const expectedProfile = expected!.profile as Record<string, unknown>;
    expect(Object.getOwnPropertyNames(expectedProfile)).toContain("__proto__");
    for (const reader of [fleet.l1Reader, fleet.redisReader]) {
      for (const attempt of [1, 2]) {
        const profile = (await read(reader.prisma))!.profile as Record<string, unknown>;
        const where = `${reader === fleet.l1Reader ? "L1 reader" : "Redis reader"}, read ${attempt}`;
        expect(Object.getPrototypeOf(profile), where).toBe(Object.getPrototypeOf(expectedProfile));
        expect(profile.isAdmin, where).toBeUndefined();
        expect(Object.getOwnPropertyNames(profile), where).toEqual(Object.getOwnPropertyNames(expectedProfile));
        expect(JSON.stringify(profile), where).toBe(JSON.stringify(expectedProfile));
        expect(profile, where).toEqual(expectedProfile);
      }
    }
  });
});

/**
 * A model left out of the cache whose rows a trigger on another table changes (outside probe 195):
 * the cached reads that include it depend on what its `dependsOn` names, as they would on a cached
 * model's. Here a trigger on Tag inserts bumps every post's version.
 */
describe("dependsOn of a model left out of the cache", () => {
  const fleet = createFleet({ models: { User: true, Post: { cache: false, dependsOn: ["Tag"] }, Tag: true, Comment: true } });
  const { writer, expectFresh } = fleet;
  const trigger = `bump_posts_${process.pid}_${Date.now()}`;

  beforeAll(async () => {
    await writer.base.$executeRawUnsafe(`CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE "Post" SET version = version + 1; RETURN NEW; END $$`);
    await writer.base.$executeRawUnsafe(`CREATE TRIGGER ${trigger} AFTER INSERT ON "Tag" FOR EACH ROW EXECUTE FUNCTION ${trigger}()`);
  });
  afterAll(async () => {
    await writer.base.$executeRawUnsafe(`DROP TRIGGER IF EXISTS ${trigger} ON "Tag"`);
    await writer.base.$executeRawUnsafe(`DROP FUNCTION IF EXISTS ${trigger}()`);
    await fleet.close();
  });

  it("a cached read including it is invalidated by writes to what it depends on", async () => {
    const author = await seedUser(writer.base);
    const read = await expectFresh(
      (p) => p.user.findUnique({ where: { id: author.id }, include: { posts: { orderBy: { id: "asc" } } } }),
      () => writer.prisma.tag.create({ data: { name: `t-${Date.now()}-${Math.random()}` } }),
    );
    expect(read!.posts.every((post) => post.version > 0)).toBe(true);
    // Filtering on it, too.
    await expectFresh(
      (p) => p.user.count({ where: { id: author.id, posts: { some: { version: { gte: read!.posts[0]!.version + 1 } } } } }),
      () => writer.prisma.tag.create({ data: { name: `t-${Date.now()}-${Math.random()}` } }),
    );
  });

  it("the model itself stays uncached", async () => {
    const reader = fleet.l1Reader;
    await reader.prisma.post.findMany({ take: 1 });
    const queries = reader.pool.queries;
    await reader.prisma.post.findMany({ take: 1 });
    expect(reader.pool.queries).toBe(queries + 1);
  });

  it("refuses other options beside it, a cache: true, and unknown models, naming the option", () => {
    const { base } = createBaseClient();
    const configError = (models: Record<string, unknown>) => configErrorOf(() => base.$extends(cacheExtension({ models: models as never })));
    expect(configError({ Post: { cache: false, dependsOn: ["Tag"], ttl: 5 } })).toMatchObject({ option: "models.Post.ttl" });
    expect(configError({ Post: { cache: true, dependsOn: ["Tag"] } })).toMatchObject({ option: "models.Post.cache" });
    expect(configError({ Post: { cache: false, dependsOn: ["Tags"] } })).toMatchObject({ option: "models.Post.dependsOn" });
    expect(configError({ Post: { cache: false, dependsOn: [] } })).toMatchObject({ option: "models.Post.dependsOn" });
    expect(configError({ Posts: { cache: false, dependsOn: ["Tag"] } })).toMatchObject({ option: "models.Posts" });
    void base.$disconnect();
  });

  it("the Accelerate mode takes it too, and reads the model uncached whatever its cacheStrategy", async () => {
    const { base } = createBaseClient();
    const accelerated = base.$extends(accelerateCompat({ models: { Post: { cache: false, dependsOn: ["Tag"] } } }));
    const author = await seedUser(base);
    const read = () => accelerated.post.findMany({ where: { authorId: author.id }, cacheStrategy: { ttl: 60 } }).withAccelerateInfo();
    await read();
    expect((await read()).info?.cacheStatus).toBe("none");
    await accelerated.$cache.close();
    await base.$disconnect();
  });
});
