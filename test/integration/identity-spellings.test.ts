import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "../schemas/second/generated/client.ts";
import { FakeClock } from "../helpers/random.ts";
import { cacheExtension } from "../../src/index.ts";
import { createRedis, uniqueNamespace } from "../helpers/client.ts";
import { createSecondBaseClient, createSecondCachedClient, personData, secondFleet, SECOND_MODELS } from "../helpers/second-client.ts";

/** A timestamp with whole seconds, unique per call: written as a Date, spelled in `where` without milliseconds. */
let second = Date.UTC(2030, 0, 1) / 1000 + Math.floor(Math.random() * 1e6) * 100;
const nextInstant = () => new Date(++second * 1000);
const noMillis = (date: Date) => date.toISOString().replace(".000Z", "Z");
let cents = 1_000_000 + Math.floor(Math.random() * 90_000) * 10;
/**
 * A price with a zero in its last decimal place, so `"…0"` and a number differ in scale only.
 * Between 100 000 and 200 000: Prisma sends a number for a Decimal rounded to 16 significant
 * digits, which gives back a price written with two decimals only when its first digit is small
 * (87180.1 is sent as 87180.10000000001, and finds nothing), and the double next to it too only
 * when that digit is 1 (277744.50000000006 is sent as 277744.5000000001).
 */
const nextPrice = () => (++cents * 10) / 100;
/** The next double above `value`: a number Prisma sends as `value` (rounded to 16 digits) that JavaScript writes with 17. */
const nextDouble = (value: number) => new Float64Array(new BigInt64Array([new BigInt64Array(new Float64Array([value]).buffer)[0]! + 1n]).buffer)[0]!;

/**
 * One value spelled differently in `where` and in the stored row (upper-case UUID, ISO string
 * without milliseconds, "10.50" for a Decimal, CHAR without padding, citext in any case): a write
 * by one spelling must reach a read by the other, on every instance, from L1 and from Redis.
 */
// Writes here change `extra` (no identity field): a write that changes an identity field bumps the
// whole model's unique reads, which would hide a tag spelled wrongly.
describe("identity values spelled differently in reads and writes", () => {
  const fleet = secondFleet();
  const base = fleet.writer.base;
  afterAll(() => fleet.close());

  it("UUID: read by upper case, update by canonical id, and the reverse", async () => {
    const person = await base.person.create({ data: personData() });
    const upper = person.id.toUpperCase();
    await fleet.expectFresh((p) => p.person.findUnique({ where: { id: upper } }), (p) => p.person.update({ where: { id: person.id }, data: { name: "by canonical" } }));
    const fresh = await fleet.expectFresh((p) => p.person.findUnique({ where: { id: person.id } }), (p) => p.person.update({ where: { id: upper }, data: { name: "by upper case" } }));
    expect(fresh?.name).toBe("by upper case");
  });

  // A "not found" by an upper-case UUID is not kept at all (see the batches below): the canonical one is.
  it("UUID: a cached 'not found' by the canonical id is invalidated by a create spelled in upper case", async () => {
    const id = randomUUID();
    const created = await fleet.expectFresh((p) => p.person.findUnique({ where: { id } }), (p) => p.person.create({ data: personData({ id: id.toUpperCase() }) }));
    expect(created?.id).toBe(id);
  });

  it("UUID in a compound id (Membership personId_teamId)", async () => {
    const person = await base.person.create({ data: personData() });
    const team = await base.team.create({ data: { name: `t-${person.code}` } });
    await base.membership.create({ data: { personId: person.id, teamId: team.id } });
    const fresh = await fleet.expectFresh(
      (p) => p.membership.findUnique({ where: { personId_teamId: { personId: person.id.toUpperCase(), teamId: team.id } } }),
      (p) => p.membership.update({ where: { personId_teamId: { personId: person.id, teamId: team.id } }, data: { role: "captain" } }),
    );
    expect(fresh?.role).toBe("captain");
  });

  it("DateTime: read by an ISO string without milliseconds (or another offset), update by Date", async () => {
    const at = nextInstant();
    const event = await base.event.create({ data: { at, price: nextPrice(), label: "dt" } });
    await fleet.expectFresh((p) => p.event.findUnique({ where: { at: noMillis(at) } }), (p) => p.event.update({ where: { id: event.id }, data: { extra: { by: "id" } } }));
    const shifted = new Date(at.getTime() + 2 * 3600_000).toISOString().replace("Z", "+02:00");
    const fresh = await fleet.expectFresh((p) => p.event.findUnique({ where: { at } }), (p) => p.event.update({ where: { at: shifted }, data: { extra: { by: "offset" } } }));
    expect(fresh?.extra).toEqual({ by: "offset" });
  });

  it("Decimal: read by \"x.x0\", update by number and by Prisma.Decimal", async () => {
    const price = nextPrice();
    const event = await base.event.create({ data: { at: nextInstant(), price, label: "dec" } });
    await fleet.expectFresh((p) => p.event.findUnique({ where: { price: price.toFixed(2) } }), (p) => p.event.update({ where: { price }, data: { extra: { by: "number" } } }));
    const fresh = await fleet.expectFresh((p) => p.event.findUnique({ where: { price: price.toFixed(2) } }), (p) => p.event.update({ where: { id: event.id }, data: { extra: { by: "id" } } }));
    expect(fresh?.extra).toEqual({ by: "id" });
    await fleet.expectFresh((p) => p.event.findUnique({ where: { price } }), (p) => p.event.update({ where: { price: new Prisma.Decimal(price.toFixed(2)) }, data: { extra: { by: "Decimal" } } }));
  });

  // Outside probe 207: read by `0.1 + 0.2`, the row `d = 0.3` was tagged 0.30000000000000004, and
  // writes to it never reached the read (stale after every update, a deleted row served).
  it("Decimal: read by a number JavaScript writes with 17 digits (Prisma sends it rounded to 16), update by id", async () => {
    const price = nextPrice();
    const event = await base.event.create({ data: { at: nextInstant(), price, label: "dec17" } });
    const spelled = nextDouble(price);
    expect(String(spelled)).not.toBe(String(price));
    const fresh = await fleet.expectFresh((p) => p.event.findUnique({ where: { price: spelled } }), (p) => p.event.update({ where: { id: event.id }, data: { extra: { by: "id" } } }));
    expect(fresh?.id).toBe(event.id);
    await fleet.expectFresh((p) => p.event.findUnique({ where: { price: spelled } }), (p) => p.event.delete({ where: { id: event.id } }));
  });

  // Outside probe 209: read by `2 ** 64`, which Prisma sends as 18446744073709550000 (16 digits:
  // another double), the read was tagged 18446744073709552000 and no write to the row reached it.
  it("Float: read by a whole number beyond i64 (Prisma sends it rounded to 16 digits), update and delete by id", async () => {
    const [sent, spelled] = [18446744073709550000, 2 ** 64];
    expect(spelled).not.toBe(sent);
    const event = await base.event.create({ data: { at: nextInstant(), price: nextPrice(), label: "float", weight: sent } });
    const fresh = await fleet.expectFresh((p) => p.event.findUnique({ where: { weight: spelled } }), (p) => p.event.update({ where: { id: event.id }, data: { extra: { by: "id" } } }));
    expect(fresh?.id).toBe(event.id);
    await fleet.expectFresh((p) => p.event.findUnique({ where: { weight: spelled } }), (p) => p.event.delete({ where: { id: event.id } }));
  });

  it("compound unique with a DateTime (labelAt): spelled without milliseconds", async () => {
    const at = nextInstant();
    const event = await base.event.create({ data: { at, price: nextPrice(), label: "compound" } });
    const fresh = await fleet.expectFresh(
      (p) => p.event.findUnique({ where: { labelAt: { label: "compound", at: noMillis(at) } } }),
      (p) => p.event.update({ where: { id: event.id }, data: { extra: { changed: true } } }),
    );
    expect(fresh?.extra).toEqual({ changed: true });
  });

  it("CHAR(8): read without the padding, update by id (the row returns padded)", async () => {
    const person = await base.person.create({ data: personData() });
    expect(person.code).toHaveLength(8);
    const fresh = await fleet.expectFresh((p) => p.person.findUnique({ where: { code: person.code.trimEnd() } }), (p) => p.person.update({ where: { id: person.id }, data: { name: "padded" } }));
    expect(fresh?.name).toBe("padded");
  });

  it("money: read by a value the column rounds (7.001 finds 7.00), then the row deleted or created by id (outside probe 282: served after its delete for the entry's life)", async () => {
    const dollars = 100_000 + Math.floor(Math.random() * 800_000);
    const wallet = await base.wallet.create({ data: { balance: `${dollars}.00`, owner: "rounded" } });
    const gone = await fleet.expectFresh((p) => p.wallet.findUnique({ where: { balance: `${dollars}.001` } }), (p) => p.wallet.delete({ where: { id: wallet.id } }));
    expect(gone).toBeNull();
    // A "not found" by such a value is not kept (it may be spelled otherwise than stored): the create is read at once.
    const readers = [fleet.viaL1, fleet.viaRedis, fleet.writer];
    const byRounded = (prisma: (typeof readers)[number]["prisma"]) => prisma.wallet.findUnique({ where: { balance: new Prisma.Decimal(`${dollars + 1}.003`) } });
    for (const reader of readers) expect(await byRounded(reader.prisma)).toBeNull();
    await fleet.writer.prisma.wallet.create({ data: { balance: dollars + 1, owner: "created" } });
    for (const reader of readers) expect((await byRounded(reader.prisma))?.owner).toBe("created");
  });

  it("citext: read by another case, update by id (no exact spelling: the read depends on the model)", async () => {
    const person = await base.person.create({ data: personData() });
    const fresh = await fleet.expectFresh((p) => p.person.findUnique({ where: { email: person.email.toUpperCase() } }), (p) => p.person.update({ where: { id: person.id }, data: { name: "case-insensitive" } }));
    expect(fresh?.name).toBe("case-insensitive");
  });
});

/**
 * Prisma answers the `findUnique` calls of one tick with one query and matches rows to calls by
 * comparing values in JavaScript, text by `===`: a call spelling its value otherwise than the
 * database returns it gets `null` there, though the row exists. Through the cache such a read loads
 * alone, as a lone call: calls the app batched find their rows, and so does a cold read that shares
 * its tick with the cache's own background refresh (outside probe 198: it answered `null`).
 */
describe("a unique value spelled otherwise than stored, in a tick with other findUnique calls", () => {
  const spellings = [
    ["an upper-case UUID", (person: { id: string }) => ({ id: person.id.toUpperCase() })],
    ["an unpadded CHAR(8)", (person: { code: string }) => ({ code: person.code.trimEnd() })],
  ] as const;

  it.each(spellings)("is answered as a lone call for %s, where plain Prisma's batch answers null", async (_, whereOf) => {
    const client = createSecondCachedClient();
    try {
      const people = await Promise.all([0, 1, 2].map(() => client.base.person.create({ data: personData({ code: `Q${randomUUID().slice(0, 4)}` }) })));
      // The condition, on plain Prisma: its batch misses some of them.
      const plain = await Promise.all(people.map((person) => client.base.person.findUnique({ where: whereOf(person) as never })));
      expect(plain.filter((row) => row === null).length).toBeGreaterThan(0);
      const read = (person: (typeof people)[number]) => client.prisma.person.findUnique({ where: whereOf(person) as never });
      expect((await Promise.all(people.map(read))).map((row) => row?.id)).toEqual(people.map((person) => person.id));
      await client.prisma.$cache.drain();
      for (const person of people) expect((await read(person))?.id).toBe(person.id);
      // A "not found" by such a spelling is right, served, and not kept.
      const absent = { id: randomUUID().toUpperCase(), code: `Z${randomUUID().slice(0, 4)}` };
      expect(await client.prisma.person.findUnique({ where: whereOf(absent) as never })).toBeNull();
      expect(client.prisma.$cache.stats().bypasses["not found by a unique value spelled otherwise than stored"]).toBe(1);
    } finally {
      await client.close();
    }
  });

  it("beside the unique key, a filter spelled otherwise than stored: loaded alone, never stored as null (outside probe 200)", async () => {
    const client = createSecondCachedClient();
    try {
      const manager = await client.base.person.create({ data: personData() });
      const people = await Promise.all([0, 1, 2].map(() => client.base.person.create({ data: personData({ managerId: manager.id }) })));
      const where = (person: (typeof people)[number]) => ({ id: person.id, managerId: manager.id.toUpperCase() });
      const plain = await Promise.all(people.map((person) => client.base.person.findUnique({ where: where(person) })));
      expect(plain.filter((row) => row === null).length).toBeGreaterThan(0);
      for (let round = 0; round < 2; round++) {
        const rows = await Promise.all(people.map((person) => client.prisma.person.findUnique({ where: where(person) })));
        expect(rows.map((row) => row?.id)).toEqual(people.map((person) => person.id));
      }
    } finally {
      await client.close();
    }
  });

  it("a fractional Int left to Prisma is answered as a lone call, not as Prisma's batch answers it (outside probe 200)", async () => {
    const client = createSecondCachedClient();
    try {
      const tickets = await Promise.all([0, 1].map(() => client.base.ticket.create({ data: { code: `T${randomUUID().slice(0, 6)}` } })));
      const reads = () => Promise.all(tickets.map((ticket) => client.prisma.ticket.findUnique({ where: { id: ticket.id + 0.5 } })));
      expect((await reads()).map((row) => row?.id)).toEqual(tickets.map((ticket) => ticket.id));
    } finally {
      await client.close();
    }
  });

  it("finds the row for an unpadded CHAR(8) when a background refresh shares its tick (outside probe 198)", async () => {
    const whereOf = spellings[1][1];
    const clock = new FakeClock();
    const { base, pool } = createSecondBaseClient();
    // An extension below the cache that holds each findUnique until a second one arrives, then lets
    // both run in one tick: the refresh's load and the cold read's, which Prisma then merges (the
    // probe met that alignment by chance, through Redis replies arriving in one chunk).
    let held: (() => void) | undefined;
    const pairing = base.$extends({
      query: {
        person: {
          async findUnique({ args, query }) {
            if (held === undefined) await new Promise<void>((release) => (held = release));
            else [held(), (held = undefined)];
            return query(args);
          },
        },
      },
    });
    const redis = createRedis();
    const prisma = pairing.$extends(cacheExtension({ redis, namespace: uniqueNamespace(), clock, models: { ...SECOND_MODELS, Person: { ttl: 1, swr: 600 } } }));
    try {
      const [stale, cold] = await Promise.all([0, 1].map(() => base.person.create({ data: personData({ code: `R${randomUUID().slice(0, 4)}` }) })));
      // The stale read names the same unique field as stored, so Prisma merges the two loads into one query.
      const warm = prisma.person.findUnique({ where: { code: stale!.code } });
      await Promise.all([warm, prisma.person.findUnique({ where: { code: `W${randomUUID().slice(0, 4)}` } })]);
      clock.advance(2_000);
      // Served stale at once, its refresh held below; then, awaited apart as a lone call, the cold read.
      expect((await prisma.person.findUnique({ where: { code: stale!.code } }))?.id).toBe(stale!.id);
      expect((await prisma.person.findUnique({ where: whereOf(cold!) as never }))?.id).toBe(cold!.id);
      expect(prisma.$cache.stats().staleServes).toBe(1);
    } finally {
      held?.();
      await prisma.$cache.close();
      await base.$disconnect();
      await pool.end();
      redis.disconnect();
    }
  });
});

/** With `bloom: true`, lookups by odd spellings of rows that exist must find them: never a wrong null. */
describe("Bloom guard with odd spellings", () => {
  const client = createSecondCachedClient({ models: { Person: { bloom: true }, Event: { bloom: true }, Membership: { bloom: true } } });
  const prisma = client.prisma;
  let person: Awaited<ReturnType<typeof client.base.person.create>>;
  let event: Awaited<ReturnType<typeof client.base.event.create>>;
  let teamId: number;

  beforeAll(async () => {
    person = await client.base.person.create({ data: personData() });
    event = await client.base.event.create({ data: { at: nextInstant(), price: nextPrice(), label: "bloom" } });
    teamId = (await client.base.team.create({ data: { name: `bloom-${person.code}`, memberships: { create: { personId: person.id } } } })).id;
    await prisma.$cache.rebuildBloom();
  });
  afterAll(() => client.close());

  it("finds rows that exist by every spelling (findUnique not null, findUniqueOrThrow not throwing)", async () => {
    const wheres = {
      person: [{ id: person.id.toUpperCase() }, { id: person.id.replace(/-/g, "") }, { code: person.code.trimEnd() }, { email: person.email.toUpperCase() }],
      event: [{ at: noMillis(event.at) }, { price: new Prisma.Decimal(event.price).toFixed(2) }, { price: nextDouble(event.price.toNumber()) }, { labelAt: { label: "bloom", at: noMillis(event.at) } }],
      membership: [{ personId_teamId: { personId: person.id.toUpperCase(), teamId } }],
    };
    for (const where of wheres.person) {
      expect(await prisma.person.findUnique({ where }), JSON.stringify(where)).not.toBeNull();
      await expect(prisma.person.findUniqueOrThrow({ where })).resolves.toMatchObject({ id: person.id });
    }
    for (const where of wheres.event) {
      expect(await prisma.event.findUnique({ where }), JSON.stringify(where)).not.toBeNull();
      await expect(prisma.event.findUniqueOrThrow({ where })).resolves.toMatchObject({ id: event.id });
    }
    for (const where of wheres.membership) await expect(prisma.membership.findUniqueOrThrow({ where })).resolves.toMatchObject({ teamId });
    // A Decimal spelled as a JS number: plain Prisma itself misses some values (about 4 % of these
    // prices, e.g. 87180.1), so the cache must answer as it does, not necessarily find the row.
    const byNumber = { price: event.price.toNumber() };
    expect((await prisma.event.findUnique({ where: byNumber }))?.id ?? null, JSON.stringify(byNumber)).toBe((await client.base.event.findUnique({ where: byNumber }))?.id ?? null);
    expect(prisma.$cache.stats().bloomRejects).toBe(0);
  });

  it("leaves to Prisma a DateTime spelling it refuses (a time without seconds): its validation error, not \"not found\" (outside probe 99)", async () => {
    for (const at of ["2031-07-01T00:00Z", "2031-07-01T00:00+02:00"]) {
      const plain = await client.base.event.findUnique({ where: { at } }).catch((error: Error) => error.constructor.name);
      expect(plain, at).toBe("PrismaClientValidationError");
      await expect(prisma.event.findUnique({ where: { at } }), at).rejects.toMatchObject({ name: "PrismaClientValidationError" });
      await expect(prisma.event.findUniqueOrThrow({ where: { at } }), at).rejects.toMatchObject({ name: "PrismaClientValidationError" });
    }
  });

  it("still answers lookups of identities that never existed without the database", async () => {
    const before = prisma.$cache.stats().bloomRejects;
    expect(await prisma.person.findUnique({ where: { id: randomUUID().toUpperCase() } })).toBeNull();
    expect(await prisma.event.findUnique({ where: { price: "0.01" } })).toBeNull();
    expect(prisma.$cache.stats().bloomRejects - before).toBeGreaterThanOrEqual(1);
  });
});

/**
 * An enum in a unique key takes its values' names only: any other string (another case, a value's
 * `@map` name as the database stores it) is Prisma's validation error. The Bloom guard must not
 * answer such a read "not found", and a valid value it has never seen still is.
 */
describe("an enum value in a unique key (Badge tier_rank)", () => {
  const client = createSecondCachedClient({ models: { Badge: { bloom: true } } });
  afterAll(() => client.close());

  async function outcome(run: () => Promise<unknown>): Promise<unknown> {
    try {
      return { value: await run() };
    } catch (error) {
      return { error: (error as Error).constructor.name };
    }
  }

  it("a value outside the enum is Prisma's validation error, from findUnique and findUniqueOrThrow, guarded or not", async () => {
    const rank = Math.floor(Math.random() * 1e9);
    const badge = await client.base.badge.create({ data: { tier: "GOLD", rank, holder: "before" } });
    await client.prisma.$cache.prepareBloom();
    const read = (target: typeof client.base, operation: "findUnique" | "findUniqueOrThrow", tier: string) => () =>
      (target.badge[operation] as (args: unknown) => Promise<unknown>)({ where: { tier_rank: { tier, rank } } });
    for (const tier of ["gold", "Gold", "PLATINUM", "GOLD", "SILVER"]) {
      for (const operation of ["findUnique", "findUniqueOrThrow"] as const) {
        const expected = await outcome(read(client.base, operation, tier));
        expect(await outcome(read(client.prisma as unknown as typeof client.base, operation, tier)), `${operation} ${tier}`).toEqual(expected);
      }
    }
    expect((await outcome(read(client.base, "findUnique", "gold"))) as object).toEqual({ error: "PrismaClientValidationError" });
    // A valid value no badge has is still answered by the guard; the cached row follows a write.
    const rejects = client.prisma.$cache.stats().bloomRejects;
    expect(await client.prisma.badge.findUnique({ where: { tier_rank: { tier: "BRONZE", rank } } })).toBeNull();
    expect(client.prisma.$cache.stats().bloomRejects).toBe(rejects + 1);
    await client.prisma.badge.update({ where: { id: badge.id }, data: { holder: "after" } });
    expect((await client.prisma.badge.findUnique({ where: { tier_rank: { tier: "GOLD", rank } } }))?.holder).toBe("after");
  });
});
