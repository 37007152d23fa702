import { afterAll, describe, expect, it } from "vitest";
import { createCachedClient } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";

/** What a query settled with, as far as callers can tell apart: the value, or the error's class and code. */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: await run() };
  } catch (error) {
    return { error: (error as Error).constructor.name, code: (error as { code?: unknown }).code };
  }
}

/**
 * Unique values Prisma does not take as they are — `NaN` from `Number(req.params.id)`, a number
 * for a `String`, an id out of `Int`'s range, a fraction Prisma truncates — name no record by
 * their spelling: the Bloom guard must leave them to Prisma (its error, or the row it finds),
 * and a read by them must not depend on a tag no write bumps.
 */
describe("identity values Prisma rejects, converts or truncates", () => {
  const guarded = createCachedClient({ models: { User: { bloom: true } } });
  const unguarded = createCachedClient({ models: { User: true } });
  afterAll(() => Promise.all([guarded.close(), unguarded.close()]));

  it("the Bloom guard answers none of them: the result or error is Prisma's own", async () => {
    const user = await seedUser(guarded.base);
    await guarded.prisma.$cache.prepareBloom();
    const cases: Array<Record<string, unknown>> = [{ id: Number("abc") }, { id: Number.POSITIVE_INFINITY }, { id: 1e21 }, { id: 2 ** 40 }, { email: 5 }, { id: user.id + 0.5 }, { id: 2_000_000_000, emial: "a typo" }];
    for (const where of cases) {
      for (const operation of ["findUnique", "findUniqueOrThrow"] as const) {
        const run = (client: typeof guarded.base) => () => (client.user[operation] as (args: unknown) => Promise<unknown>)({ where });
        expect(await outcome(run(guarded.prisma as unknown as typeof guarded.base)), `${operation} ${JSON.stringify(where)} ${String(Object.values(where)[0])}`).toEqual(await outcome(run(guarded.base)));
      }
    }
  });

  it("a read by an email with a lone surrogate (stored as U+FFFD) is fresh after a write by id; the guard finds it", async () => {
    await guarded.prisma.$cache.prepareBloom();
    const user = await guarded.prisma.user.create({ data: { email: `lone-${Date.now()}-\ud800@example.com`, name: "before" } });
    const where = { email: user.email.replace("\ufffd", "\ud800") };
    expect(where.email).not.toBe(user.email);
    expect((await guarded.base.user.findUnique({ where }))?.id, "plain Prisma").toBe(user.id);
    expect((await guarded.prisma.user.findUnique({ where }))?.id).toBe(user.id);
    await guarded.prisma.user.update({ where: { id: user.id }, data: { name: "after" } });
    expect((await guarded.prisma.user.findUnique({ where }))?.name).toBe("after");
  });

  it("a read by a fractional Int id (Prisma truncates it) is fresh after a write by the id", async () => {
    const user = await seedUser(unguarded.base);
    const where = { id: user.id + 0.25 };
    expect((await unguarded.prisma.user.findUnique({ where }))?.id).toBe(user.id);
    expect((await unguarded.prisma.user.findUnique({ where }))?.name).toBe(user.name);
    await unguarded.prisma.user.update({ where: { id: user.id }, data: { name: "after the write" } });
    expect((await unguarded.prisma.user.findUnique({ where }))?.name).toBe("after the write");
  });
});
