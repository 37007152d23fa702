import { describe, expect, it } from "vitest";
import { CacheConfigError, cacheExtension } from "../../src/index.ts";
import { readPrismaSchema } from "../../src/prisma/data-model.ts";

const dataModel = {
  models: {
    User: { fields: [{ name: "id", kind: "scalar", type: "Int" }, { name: "manager", kind: "object", type: "User" }, { name: "managerId", kind: "scalar", type: "Int" }] },
    ActiveUser: { fields: [{ name: "id", kind: "scalar", type: "Int" }] },
  },
  enums: {},
  types: {},
};
const client = (inlineSchema: unknown) => ({ _runtimeDataModel: dataModel, _clientVersion: "7.x", _engineConfig: { inlineSchema } });

describe("readPrismaSchema", () => {
  it("is exact when Prisma's parser reads the client's schema", () => {
    const schema = readPrismaSchema(
      client(`generator client {\n  provider = "prisma-client"\n  previewFeatures = ["views"]\n}\ndatasource db {\n  provider = "postgresql"\n}\nmodel User {\n  id Int @id\n  managerId Int?\n  manager User? @relation("m", fields: [managerId], references: [id])\n  reports User[] @relation("m")\n}\nview ActiveUser {\n  id Int @unique\n}\n`),
    );
    expect(schema.exact).toBe(true);
    expect(schema.graph.model("User")!.identities.map((identity) => identity.key)).toEqual(["id"]);
    expect(schema.graph.dependents("User")).toEqual(["User"]);
    expect(schema.graph.model("ActiveUser")!.isView).toBe(true);
  });

  it("parses a schema text once, and still gives every client a model graph of its own", () => {
    const text = `datasource db {\n  provider = "postgresql"\n}\nmodel User {\n  id Int @id\n  managerId Int?\n  manager User? @relation("m", fields: [managerId], references: [id])\n  reports User[] @relation("m")\n}\nview ActiveUser {\n  id Int @unique\n}\n`;
    const first = readPrismaSchema(client(text));
    const second = readPrismaSchema(client(text));
    // One cache declares what a view depends on; a cache of another client must not inherit it.
    first.graph.declareDependsOn("ActiveUser", ["User"]);
    expect(first.graph.declaresDependencies("ActiveUser")).toBe(true);
    expect(second.graph).not.toBe(first.graph);
    expect(second.graph.declaresDependencies("ActiveUser")).toBe(false);
    expect(second.graph.model("ActiveUser")!.isView).toBe(true);
  });

  it("falls back to conservative invalidation, still knowing views, when the parser rejects the schema", () => {
    const schema = readPrismaSchema(client(`datasource db {\n  provider = "postgresql"\n}\nmodel User {\n  id Int @id\n  manager Unknown\n}\nview ActiveUser {\n  id Int @unique\n}\n`));
    expect(schema.exact).toBe(false);
    expect(schema.inexactReason).toMatch(/parser rejected/);
    expect(schema.graph.model("User")!.identities).toEqual([]);
    expect(schema.graph.dependents("User")).toEqual(["User"]);
    expect(schema.graph.model("ActiveUser")!.isView).toBe(true);
  });

  it("without schema text: conservative, and says why", () => {
    const schema = readPrismaSchema(client(undefined));
    expect(schema.exact).toBe(false);
    expect(schema.inexactReason).toMatch(/no schema text/);
  });

  it("refuses `bloom` when the schema could not be read, naming the model's option and why (outside probe 157: prepareBloom() failed later with a TypeError)", () => {
    const extend = cacheExtension({ namespace: "bloom-without-schema", models: { User: { bloom: true } } }) as unknown as (client: object) => unknown;
    const rejected = client(`datasource db {\n  provider = "postgresql"\n}\nmodel User {\n  id Int @id\n  manager Unknown\n}\n`);
    for (const fake of [rejected, client(undefined)]) {
      let thrown: unknown;
      try {
        extend(fake);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(CacheConfigError);
      expect((thrown as CacheConfigError).option).toBe("models.User.bloom");
      expect((thrown as Error).message).toMatch(fake === rejected ? /parser rejected/ : /no schema text/);
    }
  });
});
