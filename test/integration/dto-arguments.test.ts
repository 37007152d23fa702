import vm from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { createCachedClient } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";

/**
 * Arguments built the way apps build them — DTO classes, constructor functions, getters — are
 * read once, and as Prisma reads them (found by an outside probe): the arguments and each
 * relation's object in select/include by their own members, never their toJSON(); values inside
 * where/data by toJSON() or their enumerable members. Each read is compared with plain Prisma,
 * twice: the second answer comes from the entry the first stored.
 */
describe("arguments read once, as Prisma reads them", () => {
  const client = createCachedClient();
  const { base, prisma } = client;
  afterAll(() => client.close());
  /** A user read with arguments the generated types would refuse (a DTO, a constructor function's instance). */
  const userRead = (c: typeof base, operation: "findMany" | "findFirst" | "findUnique", args: unknown) => (c.user[operation] as (args: unknown) => Promise<unknown>).call(c.user, args);

  async function expectAsPlain(label: string, read: (client: typeof base) => Promise<unknown>) {
    const plain = await read(base);
    expect(await read(prisma as never), `${label} (miss)`).toEqual(plain);
    expect(await read(prisma as never), `${label} (hit)`).toEqual(plain);
    return plain;
  }

  it("a DTO with toJSON() as the arguments, or as a relation's selection: its own members count", async () => {
    const author = await seedUser(base);
    await seedUser(base);
    await base.post.create({ data: { slug: `p-${author.id}-1`, title: "shown", authorId: author.id, published: true } });
    await base.post.create({ data: { slug: `p-${author.id}-2`, title: "hidden", authorId: author.id, published: false } });
    /** toJSON() for logging: Prisma never calls it on a selection. */
    class UserQuery {
      constructor(public where: object, public select: object, public take: number) {}
      toJSON() {
        return { note: "for the logs" };
      }
    }
    const rows = await expectAsPlain("findMany(DTO)", (c) => userRead(c, "findMany", new UserQuery({ email: author.email }, { email: true }, 1)));
    expect(rows).toEqual([{ email: author.email }]);
    await expectAsPlain("findFirst(DTO)", (c) => userRead(c, "findFirst", new UserQuery({ email: author.email }, { id: true }, 1)));
    class PostSelection {
      constructor(public where: object) {}
      toJSON() {
        return {};
      }
    }
    await expectAsPlain("select: { posts: DTO }", (c) => userRead(c, "findUnique", { where: { id: author.id }, select: { id: true, posts: new PostSelection({ published: false }) } }));
  });

  it("members the arguments inherit are not read (Prisma spreads the arguments' own), select and include excepted", async () => {
    const a = await seedUser(base);
    await seedUser(base);
    function Query(this: Record<string, unknown>) {
      this.select = { email: true };
    }
    Query.prototype.where = { email: a.email };
    Query.prototype.take = 1;
    const plain = (await expectAsPlain("findMany(inherited where/take)", (c) => userRead(c, "findMany", new (Query as unknown as new () => object)()))) as unknown[];
    expect(plain.length).toBeGreaterThan(1);
  });

  it("a DTO inside a filter whose members are named like a field reference's (name, modelName) is read by its members", async () => {
    const tag = `fr${Date.now()}`;
    class ProfileFilter {
      constructor(public name: string, public modelName: string, public age: number) {}
    }
    for (const age of [1, 2]) await seedUser(base, { email: `${tag}-${age}@example.com`, profile: { name: "n", modelName: "m", age } });
    for (const age of [1, 2]) {
      const rows = await expectAsPlain(`profile equals age ${age}`, (c) => userRead(c, "findMany", { where: { email: { startsWith: tag }, profile: { equals: new ProfileFilter("n", "m", age) } }, select: { email: true } }));
      expect(rows).toEqual([{ email: `${tag}-${age}@example.com` }]);
    }
  });

  it("a select whose misspelt field is undefined is refused as Prisma refuses it, on a hit too", async () => {
    const user = await seedUser(base);
    await prisma.user.findUnique({ where: { id: user.id }, select: { id: true } });
    const misspelt = (c: typeof base) => c.user.findUnique({ where: { id: user.id }, select: { id: true, emial: undefined } as never });
    await expect(misspelt(base)).rejects.toThrow(/emial/);
    await expect(misspelt(prisma as never)).rejects.toThrow(/emial/);
    await expectAsPlain("select with an undefined member", (c) => c.user.findUnique({ where: { id: user.id }, select: { id: true, name: undefined } }));
  });

  it("an object whose toJSON() returns itself is sent as its members, in filters and in data", async () => {
    class Settings {
      constructor(public theme: string) {}
      toJSON() {
        return this;
      }
    }
    const user = await seedUser(base, { profile: { theme: "light" } });
    const updated = await prisma.user.update({ where: { id: user.id }, data: { profile: new Settings("dark") as never } });
    expect(updated.profile).toEqual({ theme: "dark" });
    await expectAsPlain("profile equals Settings", (c) => userRead(c, "findMany", { where: { id: user.id, profile: { equals: new Settings("dark") } }, select: { id: true } }));
  });

  it("a plain object with a non-enumerable toJSON() is sent as what it returns, by reads and writes alike", async () => {
    const [a, b] = [await seedUser(base), await seedUser(base)];
    const pointingAtB = () => Object.defineProperty({ id: a.id }, "toJSON", { value: () => ({ id: b.id }), enumerable: false });
    const plain = (await expectAsPlain("findUnique", (c) => userRead(c, "findUnique", { where: pointingAtB() }))) as { id: number };
    expect(plain.id).toBe(b.id);
    await expectAsPlain("findFirst", (c) => userRead(c, "findFirst", { where: pointingAtB() }));
    const written = await (prisma.user.update as (args: unknown) => Promise<{ id: number }>).call(prisma.user, { where: pointingAtB(), data: { name: "written through toJSON" } });
    expect(written.id).toBe(b.id);
    expect((await base.user.findUnique({ where: { id: a.id } }))?.name).not.toBe("written through toJSON");
  });

  it("a fluent write reads its arguments when awaited, as Prisma does", async () => {
    const author = await seedUser(base);
    const post = await base.post.create({ data: { slug: `fluent-late-${author.id}`, title: "built", authorId: author.id } });
    await prisma.post.findUnique({ where: { id: post.id } });
    const args = { where: { id: post.id }, data: { title: "built" } };
    const pending = prisma.post.update(args).author();
    args.data.title = "changed";
    expect((await pending)?.id).toBe(author.id);
    expect((await base.post.findUnique({ where: { id: post.id } }))?.title).toBe("changed");
    expect((await prisma.post.findUnique({ where: { id: post.id } }))?.title).toBe("changed");
  });

  it("a per-query cache option keeps an inherited select (Prisma reads it through the prototype)", async () => {
    const user = await seedUser(base, { name: "hidden by the select" });
    const defaults = { select: { id: true, email: true } };
    const args = (cache: unknown) => Object.assign(Object.create(defaults) as object, { where: { id: user.id }, cache });
    expect(await userRead(prisma as never, "findUnique", args({ ttl: 5 }))).toEqual({ id: user.id, email: user.email });
    expect(await userRead(prisma as never, "findUnique", args(false))).toEqual({ id: user.id, email: user.email });
  });

  it("a validation error draws the caller's arguments in their order, as plain Prisma's does", async () => {
    const args = () => ({ where: { id: 1 }, select: { id: true }, omit: { name: true } });
    const message = async (c: typeof base) => {
      const error = (await userRead(c, "findUnique", args()).catch((e: Error) => e)) as Error;
      return error.message.slice(error.message.indexOf("{"));
    };
    expect(await message(prisma as never)).toBe(await message(base));
  });

  it("a getter answering differently on each read is read once: what is keyed is what loads", async () => {
    const [a, b] = [await seedUser(base), await seedUser(base)];
    for (const field of ["email", "id"] as const) {
      let reads = 0;
      const where = Object.defineProperty({}, field, { enumerable: true, get: () => (reads++ === 0 ? a[field] : b[field]) });
      // With a select (a copied read) and alone (the keyed-as-it-is findUnique by one field).
      await userRead(prisma as never, "findMany", { where, select: { email: true } });
      await userRead(prisma as never, "findUnique", { where: Object.defineProperty({}, field, { enumerable: true, get: () => (reads++ % 2 === 0 ? a[field] : b[field]) }) });
      for (const user of [a, b]) {
        await expectAsPlain(`findMany by ${field} afterwards`, (c) => c.user.findMany({ where: { [field]: user[field] }, select: { email: true } }));
        await expectAsPlain(`findUnique by ${field} afterwards`, (c) => userRead(c, "findUnique", { where: { [field]: user[field] } }));
      }
    }
  });

  it("an aggregate's or groupBy's fields to aggregate are selections: own members only, never toJSON() (outside probe 79)", async () => {
    const user = await seedUser(base);
    await base.user.update({ where: { id: user.id }, data: { visits: 7n, score: 2.5 } });
    const where = { id: user.id };
    /** Two DTOs whose toJSON() answers alike: as values they would share an entry. */
    class SumVisits {
      visits = true;
      toJSON() {
        return { note: "dto" };
      }
    }
    class SumScore {
      score = true;
      toJSON() {
        return { note: "dto" };
      }
    }
    const aggregate = (c: typeof base, args: unknown) => (c.user.aggregate as (args: unknown) => Promise<unknown>).call(c.user, args);
    expect(await expectAsPlain("aggregate _sum (DTO)", (c) => aggregate(c, { where, _sum: new SumVisits() }))).toEqual({ _sum: { visits: 7n } });
    expect(await expectAsPlain("aggregate _sum (another DTO)", (c) => aggregate(c, { where, _sum: new SumScore() }))).toEqual({ _sum: { score: 2.5 } });
    // Inherited members are not selected.
    const inherited = Object.assign(Object.create({ score: true }), { visits: true });
    expect(await expectAsPlain("aggregate _max (inherited member)", (c) => aggregate(c, { where, _max: inherited }))).toEqual({ _max: { visits: 7n } });
    const groupBy = (c: typeof base, args: unknown) => (c.user.groupBy as (args: unknown) => Promise<unknown>).call(c.user, args);
    expect(await expectAsPlain("groupBy _min (inherited member)", (c) => groupBy(c, { by: ["id"], where, _min: inherited }))).toEqual([{ id: user.id, _min: { visits: 7n } }]);
  });

  it("a Date is read by its toISOString(), as Prisma sends it: a subclass answering another instant is not keyed by its time (outside probe 79)", async () => {
    const user = await seedUser(base);
    const created = (await base.user.findUniqueOrThrow({ where: { id: user.id } })).createdAt;
    /** Sends the start of its minute (a date library's rounding): Prisma sends what toISOString() answers. */
    class MinuteStart extends Date {
      override toISOString() {
        return new Date(Math.floor(this.getTime() / 60_000) * 60_000).toISOString();
      }
    }
    const count = (c: typeof base, at: Date) => c.user.count({ where: { id: user.id, createdAt: { gte: at } } });
    const later = new Date(created.getTime() + 1);
    expect(await expectAsPlain("a plain Date after the row's time", (c) => count(c, later))).toBe(0);
    // The same time in a subclass that sends the minute's start: the row counts.
    expect(await expectAsPlain("the subclass", (c) => count(c, new MinuteStart(later.getTime())))).toBe(1);
    // An own toISOString whose text is not an instant of Date's own spelling is sent as that text.
    const own = new Date(later.getTime());
    Object.defineProperty(own, "toISOString", { value: () => new Date(Math.floor(later.getTime() / 60_000) * 60_000).toISOString().replace(".000Z", "+00:00") });
    expect(await expectAsPlain("an own toISOString", (c) => count(c, own))).toBe(1);
  });

  it("a member named __proto__ (own after JSON.parse) is dropped as Prisma drops it, in filters, Json values and data (outside probe 180)", async () => {
    const [a, b] = [await seedUser(base, { profile: {} }), await seedUser(base, { profile: { a: 1 } })];
    const ids = [a.id, b.id];
    // A filter whose __proto__ would narrow it if it became the copy's prototype.
    const where = () => ({ id: { in: ids }, ...JSON.parse('{"__proto__":{"email":"nobody@example.com"}}') });
    expect(await expectAsPlain("where with __proto__", (c) => userRead(c, "findMany", { where: where(), select: { id: true }, orderBy: { id: "asc" } }))).toEqual([{ id: a.id }, { id: b.id }]);
    // A Json value whose __proto__ would make it { a: 1 }.
    await expectAsPlain("Json equals with __proto__", (c) => userRead(c, "findMany", { where: { id: { in: ids }, profile: { equals: JSON.parse('{"__proto__":{"a":1}}') } }, select: { id: true } }));
    // A write: plain Prisma writes name alone.
    const data = JSON.parse('{"__proto__":{"role":"USER","email":"injected@example.com"},"name":"from a request body"}');
    await (prisma.user.update as (args: unknown) => Promise<unknown>).call(prisma.user, { where: { id: a.id }, data });
    expect(await base.user.findUniqueOrThrow({ where: { id: a.id }, select: { name: true, role: true, email: true } })).toEqual({ name: "from a request body", role: "ADMIN", email: a.email });
    await expectAsPlain("the written row", (c) => c.user.findUnique({ where: { id: a.id } }));
  });

  it("a byte view of any kind is copied when the read starts: reused afterwards, it changes neither the read nor its entry (outside probe 180)", async () => {
    const tag = Date.now() % 250;
    const [a, b] = [await seedUser(base, { avatar: new Uint8Array([tag, 1, 7, 9]) }), await seedUser(base, { avatar: new Uint8Array([tag, 5, 35, 9]) })];
    const bytesOf = (user: typeof a) => [...user.avatar!];
    const views: Array<[string, (bytes: number[]) => ArrayBufferView, (view: ArrayBufferView, bytes: number[]) => void]> = [
      ["Uint16Array", (bytes) => new Uint16Array(new Uint8Array(bytes).buffer), (view, bytes) => (view as Uint16Array).set(new Uint16Array(new Uint8Array(bytes).buffer))],
      ["Int8Array", (bytes) => new Int8Array(new Uint8Array(bytes).buffer), (view, bytes) => new Uint8Array((view as Int8Array).buffer).set(bytes)],
      ["DataView", (bytes) => new DataView(new Uint8Array(bytes).buffer), (view, bytes) => new Uint8Array((view as DataView).buffer).set(bytes)],
    ];
    for (const [kind, make, overwrite] of views) {
      const view = make(bytesOf(a));
      // Started now (then), keyed by a's bytes; in the same tick the caller reuses its buffer for the next row.
      const pending = userRead(prisma as never, "findMany", { where: { avatar: view }, select: { id: true } }).then((rows) => rows);
      overwrite(view, bytesOf(b));
      await pending;
      // Before: the load read the view as it was then, b's bytes, and stored b under a's key for the fleet.
      expect(await userRead(prisma as never, "findMany", { where: { avatar: make(bytesOf(a)) }, select: { id: true } }), `${kind}: its entry`).toEqual([{ id: a.id }]);
      await base.user.update({ where: { id: a.id }, data: { name: `after ${kind}` } });
      await prisma.user.update({ where: { id: a.id }, data: { name: `after ${kind}` } });
    }
  });

  it("a non-enumerable select or include is applied, beside the dominant findUnique shape it would otherwise look like (outside probe 180)", async () => {
    const user = await seedUser(base);
    const withHidden = (member: "select" | "include", value: object) => Object.defineProperty({ where: { id: user.id } }, member, { value, enumerable: false });
    await prisma.user.findUnique({ where: { id: user.id } });
    expect(await expectAsPlain("a hidden select", (c) => userRead(c, "findUnique", withHidden("select", { email: true })))).toEqual({ email: user.email });
    const included = (await expectAsPlain("a hidden include", (c) => userRead(c, "findUnique", withHidden("include", { posts: { select: { id: true } } })))) as { posts: unknown[] };
    expect(included.posts).toHaveLength(2);
  });

  /** A DateTime filter given a date-only Date subclass through a toJSON() result: Prisma refuses its text. */
  const c0 = (c: typeof base) => {
    class DateOnly extends Date {
      override toJSON() {
        return this.toISOString().slice(0, 10);
      }
    }
    return c.user.count({ where: { createdAt: { gte: { toJSON: () => new DateOnly(0) } as never } } });
  };

  it("a toJSON() result is taken as Prisma takes it: inherited members dropped, a member's toJSON(key) given its name, Dates, Decimals and bytes as they are (outside probes 186, 191)", async () => {
    const user = await seedUser(base, { profile: { a: 1 } });
    const withInherited = () => ({ toJSON: () => Object.assign(Object.create({ hidden: 1 }) as object, { a: 1 }) });
    // Reads: plain Prisma matches { a: 1 }; the copy matched { a: 1, hidden: 1 } before.
    expect(await expectAsPlain("equals a toJSON() result with an inherited member", (c) => userRead(c, "findMany", { where: { id: user.id, profile: { equals: withInherited() } }, select: { id: true } }))).toEqual([{ id: user.id }]);
    // Writes: what plain Prisma stores.
    const keyed = { toJSON: () => ({ inner: Object.assign(Object.create({ hidden: 1 }) as object, { b: 2 }), named: { toJSON: (key: string) => `key=${key}` } }) };
    await (prisma.user.update as (args: unknown) => Promise<unknown>).call(prisma.user, { where: { id: user.id }, data: { profile: keyed } });
    expect((await base.user.findUniqueOrThrow({ where: { id: user.id } })).profile).toEqual({ inner: { b: 2 }, named: "key=named" });
    await expectAsPlain("the written row", (c) => c.user.findUnique({ where: { id: user.id } }));
    // Not its JSON text (outside probe 191): Prisma takes the result as it is — a Date, a Decimal or bytes in it stay what they are.
    const asDate = { toJSON: () => new Date(user.createdAt) };
    await expectAsPlain("a filter whose toJSON() returns a Date", (c) => c.user.count({ where: { id: user.id, createdAt: asDate as never } }));
    const asBytes = { toJSON: () => ({ u8: new Uint8Array([1, 2, 3]) }) };
    await (prisma.user.update as (args: unknown) => Promise<unknown>).call(prisma.user, { where: { id: user.id }, data: { profile: asBytes } });
    const viaCache = (await base.user.findUniqueOrThrow({ where: { id: user.id } })).profile;
    await base.user.update({ where: { id: user.id }, data: { profile: asBytes as never } });
    expect(viaCache).toEqual((await base.user.findUniqueOrThrow({ where: { id: user.id } })).profile);
    class Patch {
      constructor(public createdAt: Date, public balance: Prisma.Decimal) {}
      toJSON() {
        return { ...this };
      }
    }
    const patch = () => ({ where: { id: user.id }, data: { profile: new Patch(new Date(0), new Prisma.Decimal("1.5")) } });
    const written = async (c: typeof base) => {
      await (c.user.update as (args: unknown) => Promise<unknown>).call(c.user, patch());
      return (await base.user.findUniqueOrThrow({ where: { id: user.id } })).profile;
    };
    expect(await written(prisma as never)).toEqual(await written(base));
    // A result holding an object with its own toJSON(): read as what that returns (outside probe 192).
    class Inner {
      junk = 1;
      toJSON() {
        return user.id;
      }
    }
    await expectAsPlain("a toJSON() result with a toJSON() of its own", (c) => c.user.count({ where: { id: { gte: { toJSON: () => new Inner() } as never } } }));
    // A Buffer and another view of the same bytes in a Json value: two values for Prisma, two entries (outside probe 192).
    const [asBuffer, asView] = [Buffer.from([1, 2, 3, 4]), new Uint8Array([1, 2, 3, 4])];
    await base.user.update({ where: { id: user.id }, data: { profile: { a: asView } as never } });
    // A filter object holding its own toJSON member, inside a result: Prisma writes it as what that returns (outside probe 193).
    const dto = (value: unknown) => ({ toJSON: () => value });
    expect(await expectAsPlain("a toJSON() result holding a { toJSON } filter", (c) => c.user.count({ where: dto({ id: { toJSON: () => user.id } }) as never }))).toBe(1);
    // A date-only Date subclass in a result: its own toJSON() answers (outside probe 193).
    class DateOnly extends Date {
      override toJSON() {
        return this.toISOString().slice(0, 10);
      }
    }
    await expectAsPlain("a date-only Date in a Json filter's result", (c) => c.user.count({ where: { id: user.id, profile: { equals: dto({ d: new DateOnly(0) }) as never } } }));
    await expect(c0(prisma as never)).rejects.toThrow(/ISO-8601|DateTime/);
    await expect(c0(base)).rejects.toThrow(/ISO-8601|DateTime/);
    for (const bytes of [asBuffer, asView, asBuffer]) {
      await expectAsPlain(`a Json filter holding a ${bytes.constructor.name} through toJSON()`, (c) => c.user.count({ where: { id: user.id, profile: { equals: { toJSON: () => ({ a: bytes }) } as never } } }));
    }
  });

  it("a Date of another realm (a vm context) is a Date, as Prisma takes it: an invalid one is refused, not written as NULL (outside probe 194)", async () => {
    const user = await seedUser(base);
    const foreign = (text: string) => vm.runInNewContext(`new Date(${JSON.stringify(text)})`) as Date;
    expect(foreign("2020-01-01") instanceof Date).toBe(false);
    const before = await base.user.findUniqueOrThrow({ where: { id: user.id } });
    for (const client of [base, prisma as never as typeof base]) {
      await expect(client.user.update({ where: { id: user.id }, data: { createdAt: foreign("not a date") } })).rejects.toThrow(/Date object is invalid/);
      await expect(client.user.findMany({ where: { createdAt: foreign("not a date") } })).rejects.toThrow(/Date object is invalid/);
    }
    // Inside a toJSON() result: refused the way plain Prisma refuses it.
    const inResult = (c: typeof base) => c.user.count({ where: { createdAt: { gte: { toJSON: () => foreign("not a date") } as never } } }).then(() => "resolved", (error: Error) => error.message.trim().split("\n").at(-1));
    const refusal = await inResult(base);
    expect(refusal).not.toBe("resolved");
    expect(await inResult(prisma as never)).toBe(refusal);
    expect((await base.user.findUniqueOrThrow({ where: { id: user.id } })).createdAt).toEqual(before.createdAt);
    const instant = before.createdAt.toISOString();
    expect(await expectAsPlain("findMany at a Date of another realm", (c) => c.user.findMany({ where: { id: user.id, createdAt: foreign(instant) }, select: { id: true } }))).toEqual([{ id: user.id }]);
    await expectAsPlain("count before a Date of another realm", (c) => c.user.count({ where: { createdAt: { lt: foreign(instant) } } }));
    await prisma.user.update({ where: { id: user.id }, data: { createdAt: foreign("2001-02-03T04:05:06.789Z") } });
    expect((await base.user.findUniqueOrThrow({ where: { id: user.id } })).createdAt.toISOString()).toBe("2001-02-03T04:05:06.789Z");
  });

  it("a Date of another realm of any class, or with a toJSON() of its own, is sent by its toISOString() as Prisma sends it (outside probe 197)", async () => {
    const [mine, theirs] = [await seedUser(base), await seedUser(base)];
    const inRealm = (source: string) => vm.runInNewContext(source) as Date;
    const subclass = (text: string) => inRealm(`class Day extends Date {}; new Day(${JSON.stringify(text)})`);
    const ownToJSON = (text: string) => inRealm(`const d = new Date(${JSON.stringify(text)}); d.toJSON = () => "2030-01-01T00:00:00.000Z"; d`);
    const dateOnly = (text: string) => inRealm(`class DateOnly extends Date { toJSON() { return this.toISOString().slice(0, 10); } }; new DateOnly(${JSON.stringify(text)})`);
    const ownISO = (text: string) => inRealm(`const d = new Date(${JSON.stringify(text)}); d.toISOString = () => "x"; d`);
    for (const make of [subclass, ownToJSON, dateOnly, ownISO]) {
      for (const client of [base, prisma as never as typeof base]) {
        await expect(client.user.update({ where: { id: mine.id }, data: { createdAt: make("not a date") } })).rejects.toThrow(/Date object is invalid/);
      }
    }
    for (const make of [subclass, ownToJSON, dateOnly]) {
      await base.user.update({ where: { id: theirs.id }, data: { createdAt: make("2024-01-01T10:00:00.000Z") } });
      await prisma.user.update({ where: { id: mine.id }, data: { createdAt: make("2024-01-01T10:00:00.000Z") } });
      const [expected, stored] = await Promise.all([theirs, mine].map((user) => base.user.findUniqueOrThrow({ where: { id: user.id } })));
      expect(stored!.createdAt, make.name).toEqual(expected!.createdAt);
      await expectAsPlain(`a ${make.name} Date of another realm in a filter`, (c) => c.user.count({ where: { id: { in: [mine.id, theirs.id] }, createdAt: make("2024-01-01T10:00:00.000Z") } }));
    }
  });

  it("a Proxy as the arguments is read as Prisma reads it, beside the dominant findUnique shape (outside probe 197)", async () => {
    const user = await seedUser(base);
    await prisma.user.findUnique({ where: { id: user.id } });
    const defaults: Record<string | symbol, unknown> = { select: { id: true, email: true } };
    const withDefaults = () => new Proxy({ where: { id: user.id } } as Record<string | symbol, unknown>, { get: (target, key) => target[key] ?? defaults[key] });
    expect(await expectAsPlain("findUnique through a defaults Proxy", (c) => userRead(c, "findUnique", withDefaults()))).toEqual({ id: user.id, email: user.email });
    const proxiedWhere = () => ({ where: new Proxy({ id: user.id }, {}) });
    await expectAsPlain("findUnique with a Proxy as where", (c) => userRead(c, "findUnique", proxiedWhere()));
  });

  it("a non-enumerable where is ignored as Prisma ignores it, beside the dominant findUnique shape it would look like (outside probe 194)", async () => {
    const user = await seedUser(base);
    await seedUser(base);
    await prisma.user.findUnique({ where: { id: user.id } });
    await prisma.user.findMany({ where: { id: user.id } });
    const hidden = () => Object.defineProperty({}, "where", { value: { id: user.id }, enumerable: false });
    for (const client of [base, prisma as never as typeof base]) await expect(userRead(client, "findUnique", hidden())).rejects.toThrow(/where/);
    const rows = (await expectAsPlain("findMany with a hidden where", (c) => userRead(c, "findMany", hidden()))) as unknown[];
    expect(rows.length).toBeGreaterThan(1);
  });

  it("a where getter answering differently on each read is read once, as Prisma reads it (outside probe 194)", async () => {
    const [a, b] = [await seedUser(base), await seedUser(base)];
    await prisma.user.findUnique({ where: { id: a.id } });
    await prisma.user.findUnique({ where: { id: b.id } });
    const shifting = () => {
      let reads = 0;
      return { get where() { return { id: reads++ === 0 ? a.id : b.id }; } };
    };
    for (let i = 0; i < 3; i++) await expectAsPlain("findUnique with a shifting where getter", (c) => userRead(c, "findUnique", shifting()));
    expect(await userRead(base, "findUnique", shifting())).toMatchObject({ id: a.id });
  });
});

/**
 * Prisma takes any object with numeric `s` and `e`, an array `d` and a `toFixed()` as a Decimal and
 * sends its `toFixed()` (outside probe 207: a look-alike keeping its value in a private field, or
 * showing `d`/`e`/`s` through getters, was keyed by its members, and `gt: new Amount("0")` was served
 * the answer cached for `gt: new Amount("10")`).
 */
describe("Decimal look-alikes, as Prisma reads them", () => {
  const client = createCachedClient();
  const { base, prisma } = client;
  afterAll(() => client.close());

  /** A money class holding its value privately; `d`, `e`, `s` alike for every value. */
  class Amount {
    readonly d = [0];
    readonly e = 0;
    readonly s = 1;
    readonly #text: string;
    constructor(text: string) {
      this.#text = text;
    }
    toFixed(): string {
      return this.#text;
    }
  }
  /** The same, its shape shown through getters (no enumerable member at all). */
  class GetterAmount {
    readonly #text: string;
    constructor(text: string) {
      this.#text = text;
    }
    get d() {
      return [Number(this.#text)];
    }
    get e() {
      return 0;
    }
    get s() {
      return 1;
    }
    toFixed(): string {
      return this.#text;
    }
  }
  /** A Prisma Decimal whose toFixed() rounds to cents: Prisma sends the rounded text. */
  class Cents extends Prisma.Decimal {
    override toFixed(): string {
      return super.toFixed(2);
    }
  }

  it("a look-alike is keyed by its toFixed(), in filters, whatever its members (outside probe 207)", async () => {
    const users = await Promise.all(["5", "50", "500"].map((balance) => seedUser(base, { balance: new Prisma.Decimal(balance) })));
    const ids = users.map((user) => user.id);
    for (const make of [(text: string) => new Amount(text), (text: string) => new GetterAmount(text), (text: string) => new Cents(text)]) {
      for (const bound of ["0", "10", "100", "99.999"]) {
        const read = (c: typeof base) => c.user.findMany({ where: { id: { in: ids }, balance: { gt: make(bound) as never } }, select: { id: true }, orderBy: { id: "asc" } });
        const plain = await read(base);
        expect(await read(prisma as never), `${make(bound).constructor.name} ${bound}`).toEqual(plain);
        expect(await read(prisma as never), `${make(bound).constructor.name} ${bound} (hit)`).toEqual(plain);
      }
    }
  });

  it("a look-alike in data is written as its toFixed(), once, as Prisma writes it", async () => {
    const [mine, theirs] = [await seedUser(base), await seedUser(base)];
    let reads = 0;
    const counted = new (class extends Amount {
      override toFixed(): string {
        reads++;
        return super.toFixed();
      }
    })("12.340000");
    await base.user.update({ where: { id: theirs.id }, data: { balance: new Amount("12.340000") as never } });
    await prisma.user.update({ where: { id: mine.id }, data: { balance: counted as never } });
    const [expected, stored] = await Promise.all([theirs, mine].map((user) => base.user.findUniqueOrThrow({ where: { id: user.id } })));
    expect(stored!.balance.toFixed()).toBe(expected!.balance.toFixed());
    expect(reads).toBe(1);
  });
});
