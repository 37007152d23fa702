import { describe, expect, it } from "vitest";
import { queryShape } from "../../src/stats/query-shape.ts";

describe("queryShape", () => {
  it("is the same for queries that differ only in values", () => {
    expect(queryShape("User", "findUnique", { where: { id: 1 } })).toBe(queryShape("User", "findUnique", { where: { id: 2 } }));
    expect(queryShape("User", "findMany", { where: { id: { in: [1, 2] } }, take: 5 })).toBe(queryShape("User", "findMany", { take: 9, where: { id: { in: [7] } } }));
    expect(queryShape("User", "findMany", { where: { createdAt: { gt: new Date(1) } } })).toBe(queryShape("User", "findMany", { where: { createdAt: { gt: new Date(2) } } }));
  });

  it("differs with the model, the operation or the structure of the arguments", () => {
    const shape = queryShape("User", "findUnique", { where: { id: 1 } });
    expect(queryShape("Post", "findUnique", { where: { id: 1 } })).not.toBe(shape);
    expect(queryShape("User", "findFirst", { where: { id: 1 } })).not.toBe(shape);
    expect(queryShape("User", "findUnique", { where: { email: "a" } })).not.toBe(shape);
    expect(queryShape("User", "findUnique", { where: { id: 1 }, include: { posts: true } })).not.toBe(shape);
  });
});
