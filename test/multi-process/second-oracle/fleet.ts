// How the oracle's processes keep in step: barriers and agreed decisions in a plain Redis
// connection (keys under the run's prefix, never the cache's), and the rows known at a round's start.
import type { Redis } from "ioredis";
import type { Known } from "./model.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until all `workers` processes have arrived at `name` (each arrives once). */
export async function barrier(redis: Redis, prefix: string, name: string, workers: number, timeoutMs = 120_000): Promise<void> {
  const key = `${prefix}:barrier:${name}`;
  await redis.incr(key);
  const started = Date.now();
  while (Number(await redis.get(key)) < workers) {
    if (Date.now() - started > timeoutMs) throw new Error(`barrier ${name}: only ${await redis.get(key)} of ${workers} arrived in ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** The first process to ask decides (`proposal`); every process gets the same answer. */
export async function agree(redis: Redis, prefix: string, name: string, proposal: string): Promise<string> {
  const key = `${prefix}:agree:${name}`;
  await redis.set(key, proposal, "NX");
  return (await redis.get(key))!;
}

interface PlainReader {
  person: { findMany(args: unknown): Promise<Array<{ id: string; code: string; email: string }>> };
  passport: { findMany(args: unknown): Promise<Array<{ id: number; number: string; personId: string }>> };
  team: { findMany(args: unknown): Promise<Array<{ id: number; name: string; captainId: number | null }>> };
  player: { findMany(args: unknown): Promise<Array<{ id: number; teamId: number }>> };
  membership: { findMany(args: unknown): Promise<Array<{ personId: string; teamId: number }>> };
  event: { findMany(args: unknown): Promise<Array<{ id: number; at: Date; price: { toFixed(digits: number): string }; label: string }>> };
}

/** The rows that exist now, read with plain Prisma (at most 200 of each). */
export async function knownRows(base: unknown): Promise<Known> {
  const plain = base as PlainReader;
  const page = { take: 200, orderBy: { id: "desc" } };
  const events = await plain.event.findMany({ ...page, select: { id: true, at: true, price: true, label: true } });
  return {
    people: await plain.person.findMany({ ...page, select: { id: true, code: true, email: true } }),
    passports: await plain.passport.findMany({ ...page, select: { id: true, number: true, personId: true } }),
    teams: await plain.team.findMany({ ...page, select: { id: true, name: true, captainId: true } }),
    players: await plain.player.findMany({ ...page, select: { id: true, teamId: true } }),
    memberships: await plain.membership.findMany({ take: 200, select: { personId: true, teamId: true } }),
    events: events.map((event) => ({ id: event.id, at: event.at.toISOString(), price: event.price.toFixed(2), label: event.label })),
  };
}

interface Neighbour {
  id: string;
  code: string;
  email: string;
}
interface FocusRow extends Neighbour {
  manager: Neighbour | null;
  parent: Neighbour | null;
  reports: Neighbour[];
  children: Neighbour[];
  passport: Known["passports"][number] | null;
  memberships: Array<{ personId: string; teamId: number; team: Known["teams"][number] & { players: Known["players"] } }>;
}

/**
 * The rows one hop around a random person (manager, reports, parent, children, passport,
 * memberships, their teams and players) and a few events: reads and a write drawn from these
 * meet, so a write's missed dependency shows in a few reads instead of one in thousands.
 */
export async function neighbourhood(base: unknown, k: Known, index: number): Promise<Known> {
  const focus = k.people[index % Math.max(1, k.people.length)];
  const plain = base as { person: { findUnique(args: unknown): Promise<FocusRow | null> } };
  const row = focus && (await plain.person.findUnique({ where: { id: focus.id }, include: { manager: true, parent: true, reports: true, children: true, passport: true, memberships: { include: { team: { include: { players: true } } } } } }));
  if (!row) return k;
  const person = ({ id, code, email }: Neighbour) => ({ id, code, email });
  const teams = row.memberships.map((membership) => membership.team);
  if (teams.length === 0 && k.teams[0]) teams.push({ ...k.teams[0], players: k.players.filter((player) => player.teamId === k.teams[0]!.id) });
  return {
    people: [row, row.manager, row.parent, ...row.reports, ...row.children].filter((one): one is Neighbour => one !== null).map(person),
    passports: row.passport ? [row.passport] : [],
    memberships: row.memberships.map(({ personId, teamId }) => ({ personId, teamId })),
    teams: teams.map(({ id, name, captainId }) => ({ id, name, captainId })),
    players: teams.flatMap((team) => team.players.map(({ id, teamId }) => ({ id, teamId }))),
    events: k.events.slice(index % 3, (index % 3) + 2),
  };
}
