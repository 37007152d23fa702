import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { uniqueNamespace } from "../helpers/client.ts";
import { createSecondCachedClient, SECOND_MODELS, secondFleet, type SecondPrisma } from "../helpers/second-client.ts";
import type { Racer } from "../schemas/second/generated/client.ts";

/**
 * The second schema's `Racer` has fields named like members every JavaScript object inherits: a
 * unique `constructor` and a compound unique `(toString, hasOwnProperty)`. An object that lacks them
 * (a write's result narrowed by `select`) still "has" them through Object.prototype; taken for the
 * fields' values, they hid that the result did not name the record (outside probe 254).
 */
describe("fields named like members every object inherits", () => {
  const fleet = secondFleet();
  afterAll(() => fleet.close());
  const racer = () => {
    const tag = randomUUID().slice(0, 8);
    return { constructor: `Team ${tag}`, toString: `Driver ${tag}`, hasOwnProperty: 44 };
  };
  // Untyped: Prisma's own types refuse such fields in object literals (TypeScript gives every literal Object's `constructor` and `toString`).
  const racers = (p: SecondPrisma) =>
    p.racer as unknown as { [operation in "findUnique" | "create" | "update" | "delete"]: (args: unknown) => Promise<Racer | null> };
  const byConstructor = (name: string) => (p: SecondPrisma) => racers(p).findUnique({ where: { constructor: name } });
  const byPair = (toString: string, hasOwnProperty: number) => (p: SecondPrisma) => racers(p).findUnique({ where: { toString_hasOwnProperty: { toString, hasOwnProperty } } });

  it("a write whose select leaves them out invalidates the reads by them, on every instance", async () => {
    const created = await fleet.writer.base.racer.create({ data: racer() });
    const narrowed = { select: { id: true } } as const;
    expect(await fleet.expectFresh(byConstructor(created.constructor), (p) => racers(p).update({ where: { id: created.id }, data: { valueOf: 1 }, ...narrowed }))).toMatchObject({ valueOf: 1 });
    expect(await fleet.expectFresh(byPair(created.toString, created.hasOwnProperty), (p) => racers(p).update({ where: { id: created.id }, data: { valueOf: 2 }, ...narrowed }))).toMatchObject({ valueOf: 2 });
    expect(await fleet.expectFresh(byConstructor(created.constructor), (p) => racers(p).delete({ where: { id: created.id }, ...narrowed }))).toBeNull();
  });

  it("reads by them after creates and re-keying updates, with the Bloom guard on", async () => {
    const namespace = uniqueNamespace();
    const models = { ...SECOND_MODELS, Racer: { bloom: true } };
    const [writer, other] = [createSecondCachedClient({ namespace, models }), createSecondCachedClient({ namespace, models })];
    try {
      await Promise.all([writer.prisma.$cache.prepareBloom(), other.prisma.$cache.prepareBloom()]);
      const data = racer();
      for (const client of [writer, other]) expect(await byConstructor(data.constructor)(client.prisma)).toBeNull();
      const { id } = (await racers(writer.prisma).create({ data, select: { id: true } }))!;
      const renamed = racer();
      await racers(writer.prisma).update({ where: { id }, data: { constructor: renamed.constructor, toString: renamed.toString }, select: { id: true } });
      for (const client of [writer, other]) {
        expect(await byConstructor(data.constructor)(client.prisma)).toBeNull();
        expect(await byConstructor(renamed.constructor)(client.prisma)).toMatchObject({ id });
        expect(await byPair(data.toString, data.hasOwnProperty)(client.prisma)).toBeNull();
        expect(await byPair(renamed.toString, data.hasOwnProperty)(client.prisma)).toMatchObject({ id, constructor: renamed.constructor });
      }
      // A read by id on a model with such fields names its record by id alone.
      expect(await racers(other.prisma).findUnique({ where: { id } })).toEqual(await other.base.racer.findUnique({ where: { id } }));
    } finally {
      await writer.close();
      await other.close();
    }
  });
});
