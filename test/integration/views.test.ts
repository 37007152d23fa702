import { afterAll, describe, expect, it } from "vitest";
import { cacheExtension, CacheConfigError } from "../../src/index.ts";
import { configErrorOf } from "../helpers/config-error.ts";
import { createSecondBaseClient, personData, secondFleet, SECOND_MODELS } from "../helpers/second-client.ts";

/** `view` models: their rows change when their tables do, never through writes of their own. */
describe("views", () => {
  describe("configuration", () => {
    const { base, pool } = createSecondBaseClient();
    afterAll(async () => (await base.$disconnect(), await pool.end()));
    const configError = (models: Record<string, unknown>) => configErrorOf(() => base.$extends(cacheExtension({ models: models as never })));

    it("refuses to cache a view without dependsOn, naming the option", () => {
      const error = configError({ ...SECOND_MODELS, ActivePerson: true });
      expect(error).toBeInstanceOf(CacheConfigError);
      expect(error).toMatchObject({ code: "E_INVALID_OPTION", option: "models.ActivePerson.dependsOn" });
      expect(String((error as Error).message)).toMatch(/view/);
    });

    it("refuses unknown models in dependsOn, and a Bloom guard on a view", () => {
      expect(configError({ ActivePerson: { dependsOn: ["Persons"] } })).toMatchObject({ option: "models.ActivePerson.dependsOn" });
      expect(String((configError({ ActivePerson: { dependsOn: ["Persons"] } }) as Error).message)).toMatch(/"Persons"/);
      expect(configError({ ActivePerson: { dependsOn: [] } })).toMatchObject({ option: "models.ActivePerson.dependsOn" });
      expect(configError({ ActivePerson: { dependsOn: "Person" } })).toMatchObject({ option: "models.ActivePerson.dependsOn" });
      expect(configError({ ActivePerson: { dependsOn: ["Person"], bloom: true } })).toMatchObject({ option: "models.ActivePerson.bloom" });
    });
  });

  describe("declared with dependsOn", () => {
    const fleet = secondFleet({ models: { ...SECOND_MODELS, ActivePerson: { dependsOn: ["Person"] } } });
    const base = fleet.writer.base;
    afterAll(() => fleet.close());

    it("writes to the underlying model invalidate the view's lists, counts and unique reads", async () => {
      const person = await base.person.create({ data: personData({ name: "in view" }) });
      const listed = await fleet.expectFresh((p) => p.activePerson.findMany({ where: { name: "in view" } }), (p) => p.person.update({ where: { id: person.id }, data: { active: false } }));
      expect(listed).toEqual([]);
      await fleet.expectFresh((p) => p.activePerson.count(), (p) => p.person.create({ data: personData() }));
      const fresh = await fleet.expectFresh((p) => p.activePerson.findUnique({ where: { id: person.id } }), (p) => p.person.update({ where: { id: person.id }, data: { active: true, name: "back" } }));
      expect(fresh?.name).toBe("back");
    });

    it("the view's reads are cached between writes", async () => {
      const reader = fleet.viaL1;
      await reader.prisma.activePerson.findMany();
      const queries = reader.pool.queries;
      await reader.prisma.activePerson.findMany();
      expect(reader.pool.queries).toBe(queries);
    });
  });

  it("a Redis-less client can cache a declared view too", async () => {
    const { base, pool } = createSecondBaseClient();
    const prisma = base.$extends(cacheExtension({ models: { ActivePerson: { dependsOn: ["Person"] } } }));
    const person = await prisma.person.create({ data: personData({ name: "local" }) });
    expect(await prisma.activePerson.findUnique({ where: { id: person.id } })).toMatchObject({ name: "local" });
    await prisma.person.delete({ where: { id: person.id } });
    expect(await prisma.activePerson.findUnique({ where: { id: person.id } })).toBeNull();
    await prisma.$cache.close();
    await base.$disconnect();
    await pool.end();
  });
});
