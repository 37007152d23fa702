import { afterAll, describe, expect, inject, it } from "vitest";
import { runChild } from "../helpers/child-process.ts";
import { personData, secondFleet, SECOND_MODELS } from "../helpers/second-client.ts";
import { secondDatabaseUrl } from "../helpers/databases.ts";

/**
 * The second schema across processes: a write in another process (its own client, its own L1)
 * must reach this process's cached reads, from L1 and from Redis, once it has resolved — for
 * rows changed by referential actions, identities spelled differently, and a view's tables.
 */
describe("second schema: writes in another process", () => {
  const fleet = secondFleet({ models: { ...SECOND_MODELS, ActivePerson: { dependsOn: ["Person"] } } });
  const base = fleet.writer.base;
  afterAll(() => fleet.close());

  const writeInChild = (model: string, operation: string, args: unknown) => async () => {
    const report = await runChild<{ ok: boolean; unacknowledged: number }>("second-schema-writer.ts", {
      DATABASE_URL: secondDatabaseUrl(),
      REDIS_URL: inject("redisUrl"),
      NAMESPACE: fleet.namespace,
      WRITE: JSON.stringify({ model, operation, args }),
    });
    expect(report).toEqual({ ok: true, unacknowledged: 0 });
  };

  it("a self-relation's SET NULL, a cycle's cascade, an upper-case UUID and a view", async () => {
    const boss = await base.person.create({ data: personData() });
    const report = await base.person.create({ data: personData({ managerId: boss.id }) });
    expect((await fleet.expectFresh((p) => p.person.findUnique({ where: { id: report.id } }), writeInChild("person", "delete", { where: { id: boss.id } })))?.managerId).toBeNull();

    const home = await base.team.create({ data: { name: `mp-home-${Date.now()}` } });
    const away = await base.team.create({ data: { name: `mp-away-${Date.now()}` } });
    const player = await base.player.create({ data: { name: "p", teamId: home.id } });
    await base.team.update({ where: { id: away.id }, data: { captainId: player.id } });
    expect((await fleet.expectFresh((p) => p.team.findUnique({ where: { id: away.id } }), writeInChild("team", "delete", { where: { id: home.id } })))?.captainId).toBeNull();

    const renamed = await fleet.expectFresh((p) => p.person.findUnique({ where: { id: report.id.toUpperCase() } }), writeInChild("person", "update", { where: { id: report.id }, data: { name: "renamed" } }));
    expect(renamed?.name).toBe("renamed");

    const listed = await fleet.expectFresh((p) => p.activePerson.findMany({ where: { id: report.id } }), writeInChild("person", "update", { where: { id: report.id }, data: { active: false } }));
    expect(listed).toEqual([]);
    // Four writer processes one after the other, each starting Node, tsx and Prisma: slow on a loaded machine.
  }, 90_000);
});
