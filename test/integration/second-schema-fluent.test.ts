import { afterAll, describe, expect, it } from "vitest";
import { personData, secondFleet } from "../helpers/second-client.ts";

/**
 * Prisma's fluent API on the second schema. The extension's query object carries its own members
 * (the client it runs on, …): a relation with the same name (`Person.parent`) must still answer
 * `findUnique(…).parent()` as plain Prisma does (it runs uncached) — found by the randomized oracle.
 */
describe("fluent API through a relation named like the query object's members", () => {
  const fleet = secondFleet();
  const base = fleet.writer.base;
  afterAll(() => fleet.close());

  it("findUnique(…).parent() and .children() answer as plain Prisma, before and after a write", async () => {
    const parent = await base.person.create({ data: personData() });
    const child = await base.person.create({ data: personData({ parentId: parent.id }) });
    type Client = typeof fleet.viaL1.prisma;
    const readParent = (p: Client) => p.person.findUnique({ where: { id: child.id.toUpperCase() } }).parent();
    const readChildren = (p: Client) => p.person.findUnique({ where: { id: parent.id } }).children();
    for (const reader of [fleet.viaL1, fleet.viaRedis]) {
      expect(await readParent(reader.prisma)).toEqual(await readParent(base as unknown as Client));
      expect(await readChildren(reader.prisma)).toEqual(await readChildren(base as unknown as Client));
    }
    await fleet.writer.prisma.person.update({ where: { id: parent.id }, data: { name: "renamed parent" } });
    expect((await readParent(fleet.viaL1.prisma))?.name).toBe("renamed parent");
    expect((await readParent(fleet.viaRedis.prisma))?.name).toBe("renamed parent");
  });
});
