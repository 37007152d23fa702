// The second schema's model graph as the oracle's generators see it, the known rows they pick
// values from, and the odd spellings of unique values (each names the same row to PostgreSQL).
import { randomUUID } from "node:crypto";
import { seededRandom } from "../../helpers/random.ts";

export type Random = ReturnType<typeof seededRandom>;
export type ModelName = "Person" | "Passport" | "Team" | "Player" | "Membership" | "Event" | "ActivePerson";
export type Args = Record<string, unknown>;

export interface Relation {
  name: string;
  to: ModelName;
  list: boolean;
  /** A to-one relation that may be null (`is: null` is legal). */
  optional: boolean;
}

const rel = (name: string, to: ModelName, list: boolean, optional = !list): Relation => ({ name, to, list, optional });

export const RELATIONS: Record<ModelName, Relation[]> = {
  Person: [rel("manager", "Person", false), rel("reports", "Person", true), rel("parent", "Person", false), rel("children", "Person", true), rel("passport", "Passport", false), rel("memberships", "Membership", true)],
  Passport: [rel("person", "Person", false, false)],
  Team: [rel("captain", "Player", false), rel("players", "Player", true), rel("memberships", "Membership", true)],
  Player: [rel("team", "Team", false, false), rel("captainOf", "Team", false)],
  Membership: [rel("person", "Person", false, false), rel("team", "Team", false, false)],
  Event: [],
  ActivePerson: [],
};

export const SCALARS: Record<ModelName, string[]> = {
  Person: ["id", "code", "email", "name", "active", "meta", "motto", "managerId", "parentId"],
  Passport: ["id", "number", "personId"],
  Team: ["id", "name", "captainId"],
  Player: ["id", "name", "teamId"],
  Membership: ["personId", "teamId", "role", "since"],
  Event: ["id", "at", "price", "label", "extra"],
  ActivePerson: ["id", "name", "email"],
};

/** Scalars `groupBy` can group by and `_min`/`_max` can aggregate (no Json). */
export const GROUPABLE: Record<ModelName, string[]> = {
  Person: ["active", "managerId", "parentId", "name"],
  Passport: ["personId", "number"],
  Team: ["captainId", "name"],
  Player: ["teamId", "name"],
  Membership: ["role", "teamId", "personId"],
  Event: ["label", "price", "at"],
  ActivePerson: ["name", "email"],
};

/** A total order for every model: results are compared in order. */
export const ORDER: Record<ModelName, Args[]> = {
  Person: [{ id: "asc" }],
  Passport: [{ id: "asc" }],
  Team: [{ id: "asc" }],
  Player: [{ id: "asc" }],
  Membership: [{ personId: "asc" }, { teamId: "asc" }],
  Event: [{ id: "asc" }],
  ActivePerson: [{ id: "asc" }],
};

export const DELEGATES: Record<ModelName, string> = {
  Person: "person",
  Passport: "passport",
  Team: "team",
  Player: "player",
  Membership: "membership",
  Event: "event",
  ActivePerson: "activePerson",
};

/** Rows known to exist at the start of a round (read with plain Prisma); some are gone by the time they are used. */
export interface Known {
  people: Array<{ id: string; code: string; email: string }>;
  passports: Array<{ id: number; number: string; personId: string }>;
  teams: Array<{ id: number; name: string; captainId: number | null }>;
  players: Array<{ id: number; teamId: number }>;
  memberships: Array<{ personId: string; teamId: number }>;
  events: Array<{ id: number; at: string; price: string; label: string }>;
}

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

export function chance(random: Random, p: number): boolean {
  return random() < p;
}

/** A known row of `items`, or with probability `missing` (or when there is none) undefined: a value that names no row. */
export function known<T>(random: Random, items: readonly T[], missing = 0.1): T | undefined {
  return items.length === 0 || chance(random, missing) ? undefined : pick(random, items);
}

export const spell = {
  uuid: (random: Random, id: string | undefined) => {
    const value = id ?? randomUUID();
    return chance(random, 0.5) ? value.toUpperCase() : value;
  },
  /** CHAR(8): stored padded; asked with or without the padding. */
  code: (random: Random, code: string | undefined) => {
    const value = code ?? `Z${randomUUID().slice(0, 6)}`;
    return chance(random, 0.5) ? value.trimEnd() : value.padEnd(8, " ");
  },
  /** citext: any case. */
  email: (random: Random, email: string | undefined) => {
    const value = email ?? `${randomUUID().slice(0, 6)}@nowhere.test`;
    return pick(random, [value, value.toUpperCase(), value.toLowerCase()]);
  },
  /** An instant: with or without milliseconds (when they are 0), with an offset, or as a Date (marked, revived by the worker). */
  at: (random: Random, iso: string | undefined): unknown => {
    const value = iso ?? new Date(Date.UTC(2031, 0, 1 + Math.floor(random() * 300))).toISOString();
    const variants: unknown[] = [value, value.replace("Z", "+00:00"), { $date: value }];
    if (value.endsWith(".000Z")) variants.push(value.replace(".000Z", "Z"), value.replace(".000Z", "+00:00"));
    return pick(random, variants);
  },
  /** Decimal(10,2): "10.50", "10.5", 10.5. */
  price: (random: Random, price: string | undefined): unknown => {
    const value = price ?? (900_000 + Math.floor(random() * 1000) / 100).toFixed(2);
    const number = Number(value);
    return pick(random, [value, String(number), number, number.toFixed(2)]);
  },
};
