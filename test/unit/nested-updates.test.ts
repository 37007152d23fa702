import { describe, expect, it } from "vitest";
import { nestedUpdateData } from "../../src/invalidation/nested-updates.ts";

describe("nestedUpdateData", () => {
  it("finds the data of nested update, updateMany and upsert, in every shape Prisma accepts", () => {
    expect(nestedUpdateData({ update: { id: 2 } })).toEqual([{ id: 2 }]);
    expect(nestedUpdateData({ update: { where: { id: 1 }, data: { id: 2 } } })).toEqual([{ where: { id: 1 }, data: { id: 2 } }, { id: 2 }]);
    expect(nestedUpdateData({ update: [{ where: { id: 1 }, data: { a: 1 } }], updateMany: { where: {}, data: { b: 2 } }, upsert: [{ where: {}, create: {}, update: { c: 3 } }] })).toEqual([
      { where: { id: 1 }, data: { a: 1 } },
      { a: 1 },
      { b: 2 },
      { c: 3 },
    ]);
  });

  it("finds nothing in creates, connects, deletes or values that are not objects", () => {
    expect(nestedUpdateData({ create: { id: 1 }, connect: { id: 2 }, delete: true })).toEqual([]);
    expect(nestedUpdateData(null)).toEqual([]);
    expect(nestedUpdateData("x")).toEqual([]);
  });
});
