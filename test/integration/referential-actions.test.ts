import { afterAll, describe, expect, it } from "vitest";
import { personData, secondFleet } from "../helpers/second-client.ts";

/**
 * Referential actions on the second schema, with a writer and two readers (from L1, from Redis):
 * rows the database changes on its own (cascades, SET NULL) through self-relations, a 1-1 and a
 * cycle between two models must not be served old after the write resolves.
 */
describe("referential actions: self-relations, 1-1 and cycles", () => {
  const fleet = secondFleet();
  const base = fleet.writer.base;
  afterAll(() => fleet.close());

  it("deleting a manager sets its reports' managerId to null (self-relation, SetNull)", async () => {
    const boss = await base.person.create({ data: personData() });
    const report = await base.person.create({ data: personData({ managerId: boss.id }) });
    const fresh = await fleet.expectFresh((p) => p.person.findUnique({ where: { id: report.id } }), (p) => p.person.delete({ where: { id: boss.id } }));
    expect(fresh?.managerId).toBeNull();
  });

  it("deleting a parent deletes its children and grandchildren (self-relation, Cascade)", async () => {
    const parent = await base.person.create({ data: personData() });
    const child = await base.person.create({ data: personData({ parentId: parent.id }) });
    const grandchild = await base.person.create({ data: personData({ parentId: child.id }) });
    expect(await fleet.expectFresh((p) => p.person.findUnique({ where: { id: grandchild.id } }), (p) => p.person.delete({ where: { id: parent.id } }))).toBeNull();
    expect(await fleet.viaL1.prisma.person.findUnique({ where: { code: child.code } })).toBeNull();
  });

  it("deleting a person deletes its passport (1-1, Cascade) and its memberships (compound id)", async () => {
    const person = await base.person.create({ data: personData({ passport: { create: { number: `N-${Date.now()}` } } }), include: { passport: true } });
    const team = await base.team.create({ data: { name: `team-${person.code}`, memberships: { create: { personId: person.id } } } });
    const membership = { personId_teamId: { personId: person.id, teamId: team.id } };
    await fleet.viaL1.prisma.membership.findUnique({ where: membership });
    await fleet.viaRedis.prisma.membership.findUnique({ where: membership });
    expect(await fleet.expectFresh((p) => p.passport.findUnique({ where: { id: person.passport!.id } }), (p) => p.person.delete({ where: { id: person.id } }))).toBeNull();
    expect(await fleet.viaL1.prisma.membership.findUnique({ where: membership })).toBeNull();
    expect(await fleet.viaRedis.prisma.membership.findUnique({ where: membership })).toBeNull();
  });

  it("a cycle: deleting a team deletes its players, which clears another team's captain", async () => {
    const home = await base.team.create({ data: { name: `home-${Date.now()}` } });
    const away = await base.team.create({ data: { name: `away-${Date.now()}` } });
    // A player of `home` captains `away`: Team → Player (Cascade) → Team (SetNull).
    const player = await base.player.create({ data: { name: "p", teamId: home.id } });
    await base.team.update({ where: { id: away.id }, data: { captainId: player.id } });
    const fresh = await fleet.expectFresh((p) => p.team.findUnique({ where: { id: away.id } }), (p) => p.team.delete({ where: { id: home.id } }));
    expect(fresh?.captainId).toBeNull();
  });

  it("changing a person's id cascades to its children's parentId and its passport's personId (onUpdate Cascade)", async () => {
    const parent = await base.person.create({ data: personData({ passport: { create: { number: `U-${Date.now()}` } } }), include: { passport: true } });
    const child = await base.person.create({ data: personData({ parentId: parent.id }) });
    const newId = crypto.randomUUID();
    const passport = await fleet.expectFresh((p) => p.passport.findUnique({ where: { id: parent.passport!.id } }), (p) => p.person.update({ where: { id: parent.id }, data: { id: newId } }));
    expect(passport?.personId).toBe(newId);
    expect((await fleet.viaL1.prisma.person.findUnique({ where: { id: child.id } }))?.parentId).toBe(newId);
  });

  it("a key change written as a DTO (its toJSON(), or an inherited field) cascades like a plain object's, top-level and nested", async () => {
    class Rekey {
      readonly #id: string;
      constructor(id: string) {
        this.#id = id;
      }
      toJSON() {
        return { id: this.#id };
      }
    }
    const topLevel = await base.person.create({ data: personData({ passport: { create: { number: `D-${Date.now()}` } } }), include: { passport: true } });
    const newId = crypto.randomUUID();
    const passport = await fleet.expectFresh((p) => p.passport.findUnique({ where: { id: topLevel.passport!.id } }), (p) => p.person.update({ where: { id: topLevel.id }, data: new Rekey(newId) as never }));
    expect(passport?.personId).toBe(newId);
    const parent = await base.person.create({ data: personData() });
    const child = await base.person.create({ data: personData({ parentId: parent.id, passport: { create: { number: `N-${Date.now()}` } } }), include: { passport: true } });
    const childId = crypto.randomUUID();
    const nested = await fleet.expectFresh(
      (p) => p.passport.findUnique({ where: { id: child.passport!.id } }),
      (p) => p.person.update({ where: { id: parent.id }, data: { children: { update: { where: { id: child.id }, data: Object.create({ id: childId }) as never } } } }),
    );
    expect(nested?.personId).toBe(childId);
  });

  it("a nested update that changes a referenced key reaches the holders (onUpdate Cascade through a cycle)", async () => {
    const home = await base.team.create({ data: { name: `home-n-${Date.now()}` } });
    const away = await base.team.create({ data: { name: `away-n-${Date.now()}` } });
    const player = await base.player.create({ data: { name: "p", teamId: home.id } });
    await base.team.update({ where: { id: away.id }, data: { captainId: player.id } });
    const newId = player.id + 1_000_000;
    const fresh = await fleet.expectFresh(
      (p) => p.team.findUnique({ where: { id: away.id } }),
      (p) => p.team.update({ where: { id: home.id }, data: { players: { update: { where: { id: player.id }, data: { id: newId } } } } }),
    );
    expect(fresh?.captainId).toBe(newId);
  });

  it("connecting a membership to another team rewrites its compound key, and the duties holding that key follow (nested connect, connectOrCreate, on update and on create; outside probe 94)", async () => {
    for (const relink of ["connect", "connectOrCreate", "connect on create"] as const) {
      const person = await base.person.create({ data: personData() });
      const from = await base.team.create({ data: { name: `from-${person.code}`, memberships: { create: { personId: person.id } } } });
      const to = await base.team.create({ data: { name: `to-${person.code}` } });
      const duty = await base.duty.create({ data: { personId: person.id, teamId: from.id, task: "setup" } });
      const key = { personId_teamId: { personId: person.id, teamId: from.id } };
      let moved = to.id;
      const [fresh, listed] = await fleet.expectFresh(
        (p) => Promise.all([p.duty.findUnique({ where: { id: duty.id } }), p.duty.findMany({ where: { personId: person.id } })]),
        async (p) => {
          if (relink === "connect on create") moved = (await p.team.create({ data: { name: `new-${person.code}`, memberships: { connect: key } } })).id;
          else await p.team.update({ where: { id: to.id }, data: { memberships: relink === "connect" ? { connect: key } : { connectOrCreate: { where: key, create: { personId: person.id } } } } });
        },
      );
      expect(fresh?.teamId, relink).toBe(moved);
      expect(listed.map((row) => row.teamId), relink).toEqual([moved]);
    }
  });

  it("a create (or an upsert's create) that connects a captain another team had takes it from that team, whose unique reads follow (outside probe 98)", async () => {
    for (const taking of ["create", "upsert", "connectOrCreate"] as const) {
      const home = await base.team.create({ data: { name: `home-${taking}-${Date.now()}` } });
      const player = await base.player.create({ data: { name: "captain", teamId: home.id } });
      const holder = await base.team.create({ data: { name: `holder-${taking}-${Date.now()}`, captainId: player.id } });
      const name = `taker-${taking}-${Date.now()}`;
      const fresh = await fleet.expectFresh(
        (p) => Promise.all([p.team.findUnique({ where: { id: holder.id } }), p.team.findUnique({ where: { name: holder.name } })]),
        (p) =>
          taking === "create"
            ? p.team.create({ data: { name, captain: { connect: { id: player.id } } } })
            : taking === "upsert"
              ? p.team.upsert({ where: { name }, create: { name, captain: { connect: { id: player.id } } }, update: {} })
              : p.team.create({ data: { name, captain: { connectOrCreate: { where: { id: player.id }, create: { name: "unused", teamId: home.id } } } } }),
      );
      expect(fresh.map((team) => team?.captainId), taking).toEqual([null, null]);
    }
  });

  it("a create that connects through a foreign key that is only part of a compound key takes nothing from anyone: other records' unique reads stay cached (outside probe 100)", async () => {
    const [one, two] = [await base.person.create({ data: personData() }), await base.person.create({ data: personData() })];
    const team = await base.team.create({ data: { name: `join-${one.code}`, memberships: { create: { personId: one.id } } } });
    const cached = { personId_teamId: { personId: one.id, teamId: team.id } };
    for (const reader of [fleet.viaL1, fleet.viaRedis]) await reader.prisma.membership.findUnique({ where: cached });
    await fleet.writer.prisma.membership.create({ data: { person: { connect: { id: two.id } }, team: { connect: { id: team.id } } } });
    for (const reader of [fleet.viaL1, fleet.viaRedis]) {
      const queries = reader.pool.queries;
      expect(await reader.prisma.membership.findUnique({ where: cached })).toMatchObject({ personId: one.id });
      expect(reader.pool.queries, "still cached").toBe(queries);
    }
  });

  it("a unique read through a self-relation depends on the related rows, not only its own", async () => {
    const boss = await base.person.create({ data: personData() });
    const report = await base.person.create({ data: personData({ managerId: boss.id }) });
    const include = await fleet.expectFresh((p) => p.person.findUnique({ where: { id: report.id }, include: { manager: true } }), (p) => p.person.update({ where: { id: boss.id }, data: { name: "renamed boss" } }));
    expect(include?.manager?.name).toBe("renamed boss");
    const filtered = await fleet.expectFresh((p) => p.person.findUnique({ where: { id: report.id, manager: { name: "renamed boss" } } }), (p) => p.person.update({ where: { id: boss.id }, data: { name: "renamed again" } }));
    expect(filtered).toBeNull();
  });
});
