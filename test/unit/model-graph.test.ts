import { describe, expect, it } from "vitest";
import { modelGeneration, readDependencies, recordGeneration } from "../../src/invalidation/dependencies.ts";
import { ModelGraph, type ForeignKeyActions, type ModelInfo, type ReferentialAction } from "../../src/invalidation/model-graph.ts";
import type { BloomWrites } from "../../src/guard/bloom-writes.ts";
import { WriteNames } from "../../src/prisma/write-names.ts";
import { mayCreateIdentities, writeEffects } from "../../src/invalidation/write-effects.ts";

type Key = { field: string; target: string; fields: string[]; references?: string[]; onDelete: ReferentialAction; onUpdate?: ReferentialAction };

function model(keys: Key[], extra: Partial<ModelInfo> = {}): ModelInfo {
  return {
    relations: new Map(keys.map((key) => [key.field, key.target])),
    foreignKeys: new Map(keys.map((key) => [key.field, key.fields])),
    actions: new Map(keys.map((key): [string, ForeignKeyActions] => [key.field, { references: key.references ?? ["id"], onDelete: key.onDelete, onUpdate: key.onUpdate ?? "Cascade" }])),
    identities: [{ key: "id", fields: ["id"] }],
    ...extra,
  };
}

describe("ModelGraph: referential actions", () => {
  it("a self-relation makes a delete reach the model itself (SetNull and Cascade)", () => {
    for (const onDelete of ["SetNull", "Cascade"] as const) {
      const graph = new ModelGraph(new Map([["Person", model([{ field: "manager", target: "Person", fields: ["managerId"], onDelete }])]]));
      expect(graph.dependents("Person")).toEqual(["Person"]);
    }
  });

  it("follows a cycle between two models, transitively, in both directions", () => {
    const graph = new ModelGraph(
      new Map([
        ["Team", model([{ field: "captain", target: "Player", fields: ["captainId"], onDelete: "SetNull" }])],
        ["Player", model([{ field: "team", target: "Team", fields: ["teamId"], onDelete: "Cascade" }])],
        ["Badge", model([{ field: "player", target: "Player", fields: ["playerId"], onDelete: "Cascade" }])],
      ]),
    );
    expect(graph.dependents("Team").sort()).toEqual(["Badge", "Player", "Team"]);
    expect(graph.dependents("Player").sort()).toEqual(["Badge", "Team"]);
    expect(graph.dependents("Badge")).toEqual([]);
  });

  it("Restrict and NoAction change nothing; SetDefault does", () => {
    const graph = new ModelGraph(
      new Map([
        ["P", model([])],
        ["R", model([{ field: "p", target: "P", fields: ["pId"], onDelete: "Restrict", onUpdate: "NoAction" }])],
        ["N", model([{ field: "p", target: "P", fields: ["pId"], onDelete: "NoAction", onUpdate: "Restrict" }])],
        ["D", model([{ field: "p", target: "P", fields: ["pId"], onDelete: "SetDefault", onUpdate: "Restrict" }])],
      ]),
    );
    expect(graph.dependents("P")).toEqual(["D"]);
    expect(graph.dependents("P", { kind: "update" })).toEqual([]);
  });

  it("TRUNCATE … CASCADE empties every referencing table, whatever its actions, transitively: referrers() and a named statement's names", () => {
    const graph = new ModelGraph(
      new Map([
        ["P", model([])],
        ["R", model([{ field: "p", target: "P", fields: ["pId"], onDelete: "Restrict", onUpdate: "NoAction" }])],
        ["RR", model([{ field: "r", target: "R", fields: ["rId"], onDelete: "NoAction", onUpdate: "Restrict" }])],
        ["Other", model([])],
      ]),
    );
    expect(graph.referrers("P").sort()).toEqual(["R", "RR"]);
    expect(graph.referrers("RR")).toEqual([]);
    const names = new WriteNames(graph, { suspensions: () => [] } as unknown as BloomWrites);
    const models = (list: string[]) => [...new Set(list.map((name) => name.slice(2)))].sort();
    expect(models(names.ofChangedModels(["P"]))).toEqual(["P"]);
    expect(models(names.ofChangedModels(["P"], true))).toEqual(["P", "R", "RR"]);
  });

  it("a key update reaches only the holders of keys that reference the changed fields", () => {
    const graph = new ModelGraph(
      new Map([
        ["User", model([], { identities: [{ key: "id", fields: ["id"] }, { key: "email", fields: ["email"] }] })],
        ["ByEmail", model([{ field: "user", target: "User", fields: ["userEmail"], references: ["email"], onDelete: "Cascade" }])],
        ["ById", model([{ field: "user", target: "User", fields: ["userId"], references: ["id"], onDelete: "Cascade" }])],
      ]),
    );
    expect(graph.dependents("User", { kind: "update", fields: ["email"] })).toEqual(["ByEmail"]);
    expect(graph.dependents("User", { kind: "update" }).sort()).toEqual(["ByEmail", "ById"]);
  });

  it("without known actions every foreign key is assumed to cascade", () => {
    const graph = new ModelGraph(new Map([["A", { relations: new Map([["parent", "A"]]), foreignKeys: new Map([["parent", ["?"]]]), identities: [] }]]));
    expect(graph.dependents("A")).toEqual(["A"]);
    expect(graph.dependents("A", { kind: "update", fields: ["x"] })).toEqual(["A"]);
  });
});

describe("ModelGraph: read sources", () => {
  const graph = () =>
    new ModelGraph(
      new Map([
        ["User", model([])],
        ["Post", model([{ field: "author", target: "User", fields: ["authorId"], onDelete: "Cascade" }])],
        ["ActiveUser", model([], { isView: true })],
        ["TopAuthor", model([], { isView: true })],
      ]),
    );

  it("a table reads itself; a declared view reads what it depends on, transitively", () => {
    const g = graph();
    g.declareDependsOn("ActiveUser", ["User"]);
    g.declareDependsOn("TopAuthor", ["ActiveUser", "Post"]);
    expect(g.readSources("User")).toEqual(["User"]);
    expect(g.readSources("ActiveUser").sort()).toEqual(["ActiveUser", "User"]);
    expect(g.readSources("TopAuthor").sort()).toEqual(["ActiveUser", "Post", "TopAuthor", "User"]);
  });

  it("an undeclared view depends on every table", () => {
    expect(graph().readSources("ActiveUser").sort()).toEqual(["ActiveUser", "Post", "User"]);
  });

  it("a unique read of a table declared to depend on itself (a trigger keeping a total row) depends on its generation, not the record's tag", () => {
    const g = graph();
    expect(readDependencies(g, "User", "findUnique", { where: { id: 1 } })).toEqual([recordGeneration("User"), expect.stringMatching(/^t:User:id/)]);
    g.declareDependsOn("User", ["User"]);
    expect(readDependencies(g, "User", "findUnique", { where: { id: 1 } })).toEqual([modelGeneration("User")]);
  });
});

describe("writeEffects: identity fields every update may rewrite", () => {
  const ticket = (rewrittenOnUpdate?: string[]) =>
    new ModelGraph(new Map([["Ticket", model([], { identities: [{ key: "id", fields: ["id"] }, { key: "codeKey", fields: ["codeKey"] }], ...(rewrittenOnUpdate ? { rewrittenOnUpdate } : {}) })]]));

  it("an update by id that names no identity field bumps the record generation when a generated column is part of one (its old value is unknown)", () => {
    const update = { where: { id: 1 }, data: { code: "Zzz" } };
    expect(writeEffects(ticket(), "Ticket", "update", update, { id: 1, codeKey: "zzz" }).has(recordGeneration("Ticket"))).toBe(false);
    for (const operation of ["update", "updateMany"]) {
      expect(writeEffects(ticket(["codeKey"]), "Ticket", operation, update, { id: 1, codeKey: "zzz" }).has(recordGeneration("Ticket"))).toBe(true);
    }
    expect(writeEffects(ticket(["codeKey"]), "Ticket", "upsert", { where: { id: 1 }, create: { code: "a" }, update: { seats: 2 } }, { id: 1, codeKey: "a" }).has(recordGeneration("Ticket"))).toBe(true);
    // Its new values are named too (the Bloom filter learns them).
    expect(writeEffects(ticket(["codeKey"]), "Ticket", "update", update, { id: 1, codeKey: "zzz" }).has('t:Ticket:codeKey=["zzz"]')).toBe(true);
  });

  it("such an update may create identities no Bloom filter holds", () => {
    expect(mayCreateIdentities(ticket(), "Ticket", "update", { where: { id: 1 }, data: { code: "Zzz" } })).toBe(false);
    expect(mayCreateIdentities(ticket(["codeKey"]), "Ticket", "update", { where: { id: 1 }, data: { code: "Zzz" } })).toBe(true);
  });
});
