// Random writes over the second schema, always through the extended client: creates, updates,
// upserts, deletes (single and many), nested creates/updates/connect/disconnect, deletes that
// cascade or set null through the self-relations and the Team ↔ Player cycle, transactions, and
// raw SQL. Values name rows in odd spellings too. Failures (a row another process deleted, a
// unique clash) are expected: Prisma rolls them back, and they are counted by code.
import { randomUUID } from "node:crypto";
import { chance, known, pick, spell, type Known, type Random } from "./model.ts";
import { revive } from "./compare.ts";
import { uniqueWhere as uniqueSpec } from "./reads.ts";

// The oracle drives every delegate generically; the generated types would only get in the way.
type Delegate = Record<"create" | "update" | "upsert" | "delete" | "deleteMany" | "updateMany", (args: unknown) => Promise<unknown>>;
export interface WriteClient {
  person: Delegate;
  passport: Delegate;
  team: Delegate;
  player: Delegate;
  membership: Delegate;
  event: Delegate;
  $executeRaw(strings: TemplateStringsArray, ...values: unknown[]): Promise<number>;
  $transaction(arg: unknown): Promise<unknown>;
  /** Absent on the plain client (the negative control's writer). */
  $cache?: { raw<T>(models: readonly string[], query: PromiseLike<T>): Promise<T> };
}

type Write = (prisma: WriteClient, random: Random, k: Known) => Promise<unknown>;

const uniqueWhere = (...args: Parameters<typeof uniqueSpec>) => revive(uniqueSpec(...args));
const tag = () => randomUUID().slice(0, 6);
const uuid = (random: Random, k: Known) => spell.uuid(random, known(random, k.people, 0.05)?.id);

export function newPerson(random: Random, k: Known): Record<string, unknown> {
  const t = tag();
  const data: Record<string, unknown> = { code: chance(random, 0.7) ? `C${t}` : `C${t}x`, email: `${t}@Example.test`, name: `Person ${t}`, active: chance(random, 0.8), meta: { t, __proto__x: 1 } };
  const boss = known(random, k.people, 0.3);
  if (boss) data.manager = { connect: { id: spell.uuid(random, boss.id) } };
  const parent = known(random, k.people, 0.6);
  if (parent) data.parent = { connect: { code: spell.code(random, parent.code) } };
  if (chance(random, 0.5)) data.passport = { create: { number: `N${t}` } };
  const team = known(random, k.teams, 0.4);
  if (team) data.memberships = { create: [{ team: { connect: { id: team.id } }, role: pick(random, ["member", "lead"]) }] };
  return data;
}

function newEvent(random: Random): Record<string, unknown> {
  const at = new Date(Date.UTC(2030, 0, 1, 0, 0, Math.floor(random() * 1e8), chance(random, 0.7) ? 0 : Math.floor(random() * 1000)));
  return { at: chance(random, 0.5) ? at : at.toISOString(), price: (Math.floor(random() * 1e7) / 100).toFixed(2), label: `e${tag()}` };
}

function personUpdate(random: Random, k: Known): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  const roll = random();
  if (roll < 0.2) data.name = `Renamed ${tag()}`;
  else if (roll < 0.35) data.active = chance(random, 0.5);
  else if (roll < 0.5) data.manager = chance(random, 0.5) ? { disconnect: true } : { connect: { id: uuid(random, k) } };
  else if (roll < 0.6) data.passport = { upsert: { create: { number: `N${tag()}` }, update: { number: `N${tag()}` } } };
  else if (roll < 0.7) data.reports = { updateMany: { where: {}, data: { active: chance(random, 0.5) } } };
  else if (roll < 0.8) data.children = { create: { ...newPerson(random, { ...k, people: [] }), passport: undefined } };
  else if (roll < 0.9) data.memberships = chance(random, 0.5) ? { deleteMany: {} } : { updateMany: { where: {}, data: { role: pick(random, ["member", "lead"]) } } };
  else data.meta = { n: Math.floor(random() * 100) };
  return data;
}

function teamUpdate(random: Random, k: Known): Record<string, unknown> {
  const roll = random();
  const player = known(random, k.players, 0.05);
  if (roll < 0.3) return { captain: player && chance(random, 0.7) ? { connect: { id: player.id } } : { disconnect: true } };
  if (roll < 0.5) return { players: { create: [{ name: `p${tag()}` }] } };
  if (roll < 0.65) return { players: { updateMany: { where: {}, data: { name: `p${tag()}` } } } };
  if (roll < 0.75 && player) return { players: { delete: { id: player.id } } };
  if (roll < 0.85) return { memberships: { create: { person: { connect: { email: spell.email(random, known(random, k.people, 0)?.email) } } } } };
  return { name: `team ${tag()}` };
}

export const WRITES: Array<[name: string, weight: number, run: Write]> = [
  ["person.create", 12, (p, r, k) => p.person.create({ data: newPerson(r, k) })],
  ["person.update", 14, (p, r, k) => p.person.update({ where: uniqueWhere(r, k, "Person"), data: personUpdate(r, k) })],
  ["person.upsert", 5, (p, r, k) => p.person.upsert({ where: { email: spell.email(r, known(r, k.people, 0.3)?.email) }, create: newPerson(r, k), update: personUpdate(r, k) })],
  ["person.delete", 7, (p, r, k) => p.person.delete({ where: uniqueWhere(r, k, "Person") })],
  ["person.deleteMany", 2, (p, r, k) => p.person.deleteMany({ where: { id: { in: [uuid(r, k), uuid(r, k)] } } })],
  ["person.updateMany", 4, (p, r, k) => p.person.updateMany({ where: chance(r, 0.5) ? { managerId: uuid(r, k) } : { parentId: uuid(r, k) }, data: { active: chance(r, 0.5), name: `Many ${tag()}` } })],
  ["passport.update", 3, (p, r, k) => p.passport.update({ where: uniqueWhere(r, k, "Passport"), data: { number: `N${tag()}` } })],
  ["passport.delete", 2, (p, r, k) => p.passport.delete({ where: uniqueWhere(r, k, "Passport") })],
  ["team.create", 6, (p, r, k) => p.team.create({ data: { name: `team ${tag()}`, players: { create: [{ name: `p${tag()}` }, { name: `p${tag()}` }] }, ...(chance(r, 0.5) ? { memberships: { create: { personId: uuid(r, k) } } } : {}) } })],
  ["team.update", 10, (p, r, k) => p.team.update({ where: uniqueWhere(r, k, "Team"), data: teamUpdate(r, k) })],
  ["team.delete", 3, (p, r, k) => p.team.delete({ where: uniqueWhere(r, k, "Team") })],
  ["player.create", 5, (p, r, k) => p.player.create({ data: { name: `p${tag()}`, team: { connect: { id: known(r, k.teams, 0)?.id ?? 0 } }, ...(chance(r, 0.3) ? { captainOf: { connect: { id: known(r, k.teams, 0)?.id ?? 0 } } } : {}) } })],
  ["player.update", 5, (p, r, k) => p.player.update({ where: uniqueWhere(r, k, "Player"), data: chance(r, 0.5) ? { teamId: known(r, k.teams, 0)?.id ?? 0 } : { name: `p${tag()}`, team: { update: { name: `team ${tag()}` } } } })],
  ["player.delete", 4, (p, r, k) => p.player.delete({ where: uniqueWhere(r, k, "Player") })],
  ["membership.upsert", 4, (p, r, k) => p.membership.upsert({ where: uniqueWhere(r, k, "Membership"), create: { personId: uuid(r, k), teamId: known(r, k.teams, 0)?.id ?? 0 }, update: { role: pick(r, ["member", "lead"]) } })],
  ["membership.delete", 3, (p, r, k) => p.membership.delete({ where: uniqueWhere(r, k, "Membership") })],
  ["event.create", 4, (p, r) => p.event.create({ data: newEvent(r) })],
  ["event.update", 5, (p, r, k) => p.event.update({ where: uniqueWhere(r, k, "Event"), data: chance(r, 0.5) ? { label: `e${tag()}`, extra: { n: tag() } } : newEvent(r) })],
  ["event.upsert", 2, (p, r, k) => p.event.upsert({ where: uniqueWhere(r, k, "Event"), create: newEvent(r), update: { label: `e${tag()}` } })],
  ["event.deleteMany", 2, (p, r, k) => p.event.deleteMany({ where: { price: spell.price(r, known(r, k.events, 0)?.price) } })],
  ["$executeRaw people", 3, (p, r, k) => p.$executeRaw`UPDATE people SET name = ${`Raw ${tag()}`}, active = ${chance(r, 0.5)} WHERE id = ${uuid(r, k)}::uuid`],
  ["$executeRaw Player team", 2, (p, r, k) => p.$executeRaw`UPDATE "Player" SET team_id = ${known(r, k.teams, 0)?.id ?? 0} WHERE id = ${known(r, k.players, 0)?.id ?? 0}`],
  ["$cache.raw events", 2, (p, r, k) => {
    const query = p.$executeRaw`UPDATE events SET event_label = ${`e${tag()}`} WHERE id = ${known(r, k.events, 0)?.id ?? 0}`;
    return p.$cache?.raw(["Event"], query) ?? query;
  }],
  ["interactive $transaction", 3, (p, r, k) => p.$transaction(async (tx: WriteClient) => [await tx.person.update({ where: uniqueWhere(r, k, "Person"), data: personUpdate(r, k) }), await tx.team.update({ where: uniqueWhere(r, k, "Team"), data: { name: `team ${tag()}` } })])],
  ["batch $transaction", 2, (p, r, k) => p.$transaction([p.player.create({ data: { name: `p${tag()}`, teamId: known(r, k.teams, 0)?.id ?? 0 } }), p.person.updateMany({ where: { active: false }, data: { active: true } })])],
];

const TOTAL = WRITES.reduce((sum, [, weight]) => sum + weight, 0);

/** Writes of one row named by a unique value: where a missed dependency hides best. */
const PINNED = new Set(["person.update", "passport.update", "team.update", "player.update", "event.update", "membership.upsert", "person.delete", "player.delete", "team.delete", "membership.delete"]);

/** A random write; `pinned`: half the time one of the single-row writes. */
export function pickWrite(random: Random, pinned = false): [string, Write] {
  if (pinned && chance(random, 0.5)) {
    const [name, , run] = pick(random, WRITES.filter(([candidate]) => PINNED.has(candidate)));
    return [name, run];
  }
  let roll = random() * TOTAL;
  for (const [name, weight, run] of WRITES) {
    roll -= weight;
    if (roll < 0) return [name, run];
  }
  return [WRITES[0]![0], WRITES[0]![2]];
}
