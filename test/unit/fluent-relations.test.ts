import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { chainableFluentWrite } from "../../src/prisma/fluent-write.ts";
import { LazyQuery, withFluentRelations, type PrismaPromiseLike, type QueryRunner } from "../../src/prisma/lazy-query.ts";

/**
 * Outside probe 215: a relation named like a member of the cache's query object (`model`, `args`,
 * `operation`, `runner`, `served`, …) had no fluent method — the instance's field hid it
 * (`car.findUnique(…).model()`: "model is not a function"). The query's own members are `$`-named,
 * as Prisma's are, since no field of a schema can be.
 */
describe("fluent relation methods", () => {
  const relations = ["model", "args", "operation", "runner", "served", "cacheOption", "argsCopied", "parent", "scope", "self", "execute", "copyArgs", "query", "write"];
  const calls: Array<[string, unknown]> = [];
  const runner: QueryRunner = {
    run: async () => null,
    passthrough: () => Promise.resolve(null) as never,
    fluent: (_query, relation, args) => (calls.push([relation, args]), relation),
  };

  it("exist for relations named like the query's own members, and call the runner with their name", () => {
    const Query = withFluentRelations(relations);
    const query = new Query(runner, {}, "Car", "findUnique", { where: { id: 1 } }, undefined) as unknown as Record<string, (args?: unknown) => unknown>;
    for (const relation of relations) expect(query[relation]!({ take: 1 }), relation).toBe(relation);
    expect(calls).toEqual(relations.map((relation) => [relation, { take: 1 }]));
  });

  // Outside probe 216: a relation named `execute` was called instead of the query when it was
  // awaited — every single-record read of its model answered with the related records.
  it("a relation named like the query's methods does not replace them: awaited, the query runs", async () => {
    const Query = withFluentRelations(["execute", "copyArgs"]);
    const ran: string[] = [];
    const query = new Query({ ...runner, run: async (q) => (ran.push(q.$model), "the row") }, {}, "Job", "findUnique", { where: { id: 1 } }, undefined);
    expect(await query).toBe("the row");
    expect(ran).toEqual(["Job"]);
  });

  it("are bound to their query: taken off it, they still call it", () => {
    const Query = withFluentRelations(["posts"]);
    const query = new Query(runner, {}, "User", "findUnique", undefined, undefined);
    const { posts } = query as unknown as { posts: (args?: unknown) => unknown };
    expect(posts()).toBe("posts");
  });

  it("show the query, not the client it runs on, to JSON.stringify and console.log (outside probe 215)", () => {
    const Query = withFluentRelations(["posts"]);
    const client: Record<string, unknown> = {};
    client.self = client;
    const query = new Query(runner, client as never, "User", "findUnique", { where: { id: 1 } }, undefined);
    const shown = { model: "User", operation: "findUnique", args: { where: { id: 1 } } };
    expect(JSON.parse(JSON.stringify(query))).toEqual(shown);
    expect(inspect(query)).toBe(`PrismaPromise ${JSON.stringify(shown)}`);
    // Arguments JSON cannot write: console.log still shows them, and does not throw.
    const withBigInt = new Query(runner, client as never, "User", "findMany", { where: { visits: 5n } }, undefined);
    expect(inspect(withBigInt)).toContain("visits: 5n");
  });

  // Outside probe 216: on a fluent write (`post.update(…).author().query()`), relations named
  // `query` or `write` were the wrapper's own fields, and `execute` its method.
  it("on a write, relations named like the wrapper's members are relations", () => {
    const write = new LazyQuery(runner, {}, "Post", "update", { where: { id: 1 } }, undefined);
    const called: string[] = [];
    const plain = Object.fromEntries(["query", "write", "execute", "copyArgs"].map((relation) => [relation, () => (called.push(relation), plain)])) as unknown as PrismaPromiseLike;
    const fluent = chainableFluentWrite(write, plain, async () => null) as unknown as Record<string, () => unknown>;
    for (const relation of ["query", "write", "execute", "copyArgs"]) expect(typeof fluent[relation]!(), relation).toBe("object");
    expect(called).toEqual(["query", "write", "execute", "copyArgs"]);
  });
});
