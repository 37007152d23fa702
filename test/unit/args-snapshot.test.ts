import { describe, expect, it } from "vitest";
import { snapshotArgs } from "../../src/prisma/args-snapshot.ts";

describe("snapshotArgs", () => {
  it("copies plain objects and arrays deeply, so later changes to the caller's object do not reach it", () => {
    const args = { where: { id: 1, OR: [{ email: "a@x" }] }, select: { id: true } };
    const copy = snapshotArgs(args);
    args.where.id = 2;
    args.where.OR[0]!.email = "b@x";
    args.where.OR.push({ email: "c@x" });
    expect(copy).toEqual({ where: { id: 1, OR: [{ email: "a@x" }] }, select: { id: true } });
  });

  it("keeps values Prisma reads by their class (Date, Buffer, a caller's class instance) as they are, and null-prototype objects and symbol keys", () => {
    class Where {
      constructor(readonly id: number) {}
    }
    const at = new Date(0);
    const bytes = Buffer.from("ab");
    const dto = new Where(3);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { id: 4 });
    const marker = Symbol("marker");
    const copy = snapshotArgs({ where: { at, bytes, dto, bare, [marker]: 1 } });
    expect(copy.where.at).toBe(at);
    expect(copy.where.bytes).toBe(bytes);
    expect(copy.where.dto).toBe(dto);
    expect(copy.where.bare).not.toBe(bare);
    expect(Object.getPrototypeOf(copy.where.bare)).toBe(null);
    expect({ ...copy.where.bare }).toEqual({ id: 4 });
    expect(copy.where[marker]).toBe(1);
    expect(snapshotArgs(undefined)).toBe(undefined);
  });
});
