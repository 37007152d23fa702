import { describe, expect, it } from "vitest";
import { reachedModels } from "../../src/invalidation/dependencies.ts";
import { ModelGraph, type ModelInfo } from "../../src/invalidation/model-graph.ts";
import { writeEffects } from "../../src/invalidation/write-effects.ts";
import { schemaMember } from "../../src/invalidation/relation-walk.ts";

const model = (relations: Record<string, string>): ModelInfo => ({ relations: new Map(Object.entries(relations)), foreignKeys: new Map(), identities: [{ key: "id", fields: ["id"] }] });

/** Person has a self-relation (manager/reports), a relation spelled like an operator (`is`), and Person ↔ Team point at each other. */
const graph = new ModelGraph(
  new Map([
    ["Person", model({ manager: "Person", reports: "Person", team: "Team", is: "Badge" })],
    ["Team", model({ lead: "Person", members: "Person", office: "Office" })],
    ["Office", model({})],
    ["Badge", model({})],
  ]),
);
const reached = (root: string, args: unknown, operation?: string) => [...reachedModels(graph, root, args, operation)].sort();

describe("reachedModels", () => {
  it("_count: true reaches every relation of its model, at any depth", () => {
    // Prisma counts list relations only; the graph does not say which are lists, so to-one ones count too (over-reach is safe).
    expect(reached("Team", { include: { _count: true } })).toEqual(["Office", "Person", "Team"]);
    expect(reached("Person", { select: { team: { select: { _count: true } } } })).toEqual(["Office", "Person", "Team"]);
  });

  it("aggregate's and groupBy's top-level _count counts rows, not relations", () => {
    expect(reached("Team", { _count: true }, "aggregate")).toEqual(["Team"]);
    expect(reached("Team", { by: ["id"], _count: { _all: true } }, "groupBy")).toEqual(["Team"]);
    expect(reached("Team", { _count: true, where: { office: { is: {} } } }, "aggregate")).toEqual(["Office", "Team"]);
  });

  it("follows self-relations and cycles as far as the arguments go", () => {
    expect(reached("Person", { where: { manager: { manager: { team: { lead: { is: null } } } } } })).toEqual(["Badge", "Person", "Team"]);
    expect(reached("Team", { where: { members: { some: { team: { office: { isNot: null } } } } } })).toEqual(["Office", "Person", "Team"]);
  });

  it("a relation spelled like an operator is walked both ways", () => {
    // `is` under `manager` is the operator: the filter inside still reaches Team.
    expect(reached("Person", { where: { manager: { is: { team: { id: 1 } } } } })).toEqual(["Badge", "Person", "Team"]);
  });

  it("orderBy, cursor and distinct", () => {
    expect(reached("Person", { orderBy: [{ team: { office: { id: "asc" } } }], cursor: { id: 1 }, distinct: ["id"] })).toEqual(["Office", "Person", "Team"]);
  });

  it("walks class instances, and does not walk values Prisma sends as scalars", () => {
    class Filter {
      team = { office: {} };
    }
    expect(reached("Person", { where: new Filter() })).toEqual(["Office", "Person", "Team"]);
    const bytes = new Uint8Array(1_000_000);
    expect(reached("Person", { where: { id: bytes, at: new Date() } })).toEqual(["Person"]);
    expect(reached("Person", { where: { toJSON: undefined, x: { toJSON: () => ({ team: {} }) } } })).toEqual(["Person", "Team"]);
  });
});

describe("writeEffects reads data as Prisma does", () => {
  class Dto {
    constructor(private readonly changes: Record<string, unknown>) {}
    toJSON() {
      return this.changes;
    }
  }

  it("an identity changed through a DTO's toJSON() bumps the record generation", () => {
    const names = writeEffects(graph, "Person", "update", { where: { id: 1 }, data: new Dto({ id: 2 }) as never }, { id: 2 });
    expect(names.has("r:Person")).toBe(true);
    const unchanged = writeEffects(graph, "Person", "update", { where: { id: 1 }, data: new Dto({ name: "x" }) as never }, { id: 1 });
    expect(unchanged.has("r:Person")).toBe(false);
  });

  it("nested writes inside class instances reach their models", () => {
    class CreateTeam {
      office = { create: {} };
    }
    const names = writeEffects(graph, "Person", "update", { where: { id: 1 }, data: { team: { create: new CreateTeam() } } }, { id: 1 });
    expect([...names].filter((name) => name.startsWith("g:")).sort()).toEqual(["g:Office", "g:Person", "g:Team"]);
  });
});

describe("schemaMember: a member named by the schema, as Prisma reads it", () => {
  it("reads enumerable properties, own or inherited, and never what every object inherits", () => {
    expect(schemaMember({ constructor: "Ferrari" }, "constructor")).toBe("Ferrari");
    for (const name of ["constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "__proto__", "__defineGetter__"]) {
      expect(schemaMember({ id: 1 }, name)).toBeUndefined();
      expect(schemaMember(Object.create(null), name)).toBeUndefined();
    }
    // A DTO's inherited enumerable member counts (Prisma walks arguments with for-in); a class's methods and accessors are not enumerable.
    const parent = { toString: "inherited" };
    expect(schemaMember(Object.create(parent), "toString")).toBe("inherited");
    class Dto {
      get email() {
        return "a@b.c";
      }
    }
    expect(schemaMember(new Dto(), "email")).toBeUndefined();
    expect(schemaMember(Object.defineProperty({}, "valueOf", { value: 3, enumerable: false }), "valueOf")).toBeUndefined();
  });
});
