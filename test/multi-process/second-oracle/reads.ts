// Random reads over the second schema: every operation that reads, with include/select/_count
// (`_count: true` too) and relation filters (some/every/none/is/isNot) up to 3 levels deep, and
// unique values in odd spellings. A read is plain JSON (`ReadSpec`), so processes can share it.
import { chance, GROUPABLE, known, ORDER, pick, RELATIONS, SCALARS, spell, type Args, type Known, type ModelName, type Random } from "./model.ts";

export interface ReadSpec {
  model: ModelName;
  operation: string;
  args: Args;
  /** The fluent API: `findUnique(args).<relation>()`. */
  fluent?: string;
}

const MODELS: ModelName[] = ["Person", "Person", "Person", "Passport", "Team", "Team", "Player", "Membership", "Event", "ActivePerson"];
const OPERATIONS = ["findUnique", "findUnique", "findUniqueOrThrow", "findFirst", "findFirstOrThrow", "findMany", "findMany", "findMany", "count", "aggregate", "groupBy"];

/** Around a single write (`focused`): unique reads by the neighbourhood's values, with relations, half the time. */
export function randomRead(random: Random, k: Known, focused = false): ReadSpec {
  const model = pick(random, MODELS);
  const operation = focused && chance(random, 0.5) ? "findUnique" : pick(random, OPERATIONS);
  const depth = focused ? 1 + Math.floor(random() * 3) : Math.floor(random() * 4);
  if (operation === "findUnique" && RELATIONS[model].length > 0 && chance(random, 0.15)) return { model, operation, args: { where: uniqueWhere(random, k, model) }, fluent: pick(random, RELATIONS[model]).name };
  if (operation.startsWith("findUnique")) return { model, operation, args: { where: { ...uniqueWhere(random, k, model), ...(chance(random, 0.2) ? { AND: [where(random, k, model, 1)] } : {}) }, ...selection(random, k, model, depth) } };
  if (operation === "count") return { model, operation, args: { where: where(random, k, model, depth), ...(chance(random, 0.3) ? { select: { _all: true } } : {}) } };
  if (operation === "aggregate") return { model, operation, args: aggregate(random, k, model, depth) };
  if (operation === "groupBy") return { model, operation, args: groupBy(random, k, model, depth) };
  const many = operation === "findMany";
  return {
    model,
    operation,
    args: {
      where: where(random, k, model, depth),
      orderBy: order(random, model),
      ...(chance(random, 0.1) ? { distinct: [pick(random, GROUPABLE[model])] } : {}),
      ...(chance(random, many ? 0.4 : 0.5) ? { take: 1 + Math.floor(random() * 4) } : {}),
      ...(chance(random, 0.2) ? { skip: 1 } : {}),
      ...selection(random, k, model, depth),
    },
  };
}

/** The model's total order, sometimes after an order through a relation (a count, or a related row's id). */
function order(random: Random, model: ModelName): Args[] {
  const relations = RELATIONS[model];
  if (relations.length === 0 || !chance(random, 0.25)) return ORDER[model];
  const relation = pick(random, relations);
  const first = relation.list ? { [relation.name]: { _count: pick(random, ["asc", "desc"]) } } : { [relation.name]: ORDER[relation.to][0]! };
  return [first, ...ORDER[model]];
}

/** One unique criterion of `model`, spelled oddly; sometimes one that names no row. */
export function uniqueWhere(random: Random, k: Known, model: ModelName): Args {
  switch (model) {
    case "Person":
    case "ActivePerson": {
      const person = known(random, k.people);
      const kind = model === "ActivePerson" ? "id" : pick(random, ["id", "code", "email"]);
      if (kind === "code") return { code: spell.code(random, person?.code) };
      if (kind === "email") return { email: spell.email(random, person?.email) };
      return { id: spell.uuid(random, person?.id) };
    }
    case "Passport": {
      const passport = known(random, k.passports);
      return pick(random, [{ id: passport?.id ?? 999_999 }, { number: passport?.number ?? "N-none" }, { personId: spell.uuid(random, passport?.personId) }]);
    }
    case "Team": {
      const team = known(random, k.teams);
      return pick(random, [{ id: team?.id ?? 999_999 }, { name: team?.name ?? "no team" }, { captainId: team?.captainId ?? 999_999 }]);
    }
    case "Player":
      return { id: known(random, k.players)?.id ?? 999_999 };
    case "Membership": {
      const membership = known(random, k.memberships);
      return { personId_teamId: { personId: spell.uuid(random, membership?.personId), teamId: membership?.teamId ?? 999_999 } };
    }
    case "Event": {
      const event = known(random, k.events);
      const kind = pick(random, ["id", "at", "price", "labelAt"]);
      if (kind === "at") return { at: spell.at(random, event?.at) };
      if (kind === "price") return { price: spell.price(random, event?.price) };
      if (kind === "labelAt") return { labelAt: { label: event?.label ?? "no label", at: spell.at(random, event?.at) } };
      return { id: event?.id ?? 999_999 };
    }
  }
}

function scalarFilter(random: Random, k: Known, model: ModelName): Args {
  const person = known(random, k.people, 0.05);
  switch (model) {
    case "Person":
      return pick(random, [{ active: chance(random, 0.5) }, { name: { startsWith: "Person" } }, { managerId: null }, { managerId: { not: null } }, { parentId: null }, { code: spell.code(random, person?.code) }, { email: spell.email(random, person?.email) }, { id: { in: [spell.uuid(random, person?.id), spell.uuid(random, undefined)] } }, { parentId: spell.uuid(random, person?.id) }, { managerId: spell.uuid(random, person?.id) }]);
    case "Passport":
      return pick(random, [{ number: { startsWith: "N" } }, { personId: spell.uuid(random, person?.id) }, { id: { gt: known(random, k.passports)?.id ?? 0 } }]);
    case "Team":
      return pick(random, [{ name: { contains: "a" } }, { captainId: null }, { captainId: { not: null } }, { id: { lte: known(random, k.teams)?.id ?? 0 } }]);
    case "Player":
      return pick(random, [{ name: { startsWith: "p" } }, { teamId: known(random, k.teams)?.id ?? 0 }, { id: { gte: known(random, k.players)?.id ?? 0 } }]);
    case "Membership":
      return pick(random, [{ role: pick(random, ["member", "lead"]) }, { since: { lt: new Date(Date.now() + 3_600_000).toISOString() } }, { personId: spell.uuid(random, person?.id) }]);
    case "Event": {
      const event = known(random, k.events);
      return pick(random, [{ price: { gte: spell.price(random, event?.price) } }, { at: { gte: spell.at(random, event?.at) } }, { label: { startsWith: "e" } }, { price: spell.price(random, event?.price) }]);
    }
    case "ActivePerson":
      return pick(random, [{ name: { startsWith: "Person" } }, { email: { contains: "@" } }, { id: spell.uuid(random, person?.id) }]);
  }
}

/** A filter on `model`: scalar conditions and, while depth remains, relation filters of any kind. */
export function where(random: Random, k: Known, model: ModelName, depth: number): Args {
  const filter: Args = {};
  if (chance(random, 0.6)) Object.assign(filter, scalarFilter(random, k, model));
  const relations = RELATIONS[model];
  if (depth > 0 && relations.length > 0 && chance(random, 0.7)) {
    const relation = pick(random, relations);
    const inner = () => where(random, k, relation.to, depth - 1);
    if (relation.list) filter[relation.name] = { [pick(random, ["some", "every", "none"])]: inner() };
    else if (relation.optional && chance(random, 0.2)) filter[relation.name] = chance(random, 0.5) ? null : { isNot: null };
    else filter[relation.name] = pick(random, ["is", "isNot", "bare"]) === "bare" ? inner() : { [pick(random, ["is", "isNot"])]: inner() };
  }
  if (chance(random, 0.1)) return { OR: [filter, scalarFilter(random, k, model)] };
  if (chance(random, 0.05)) return { NOT: filter };
  return filter;
}

/** `include` or `select` (or neither) for `model`, nesting relations while depth remains. */
export function selection(random: Random, k: Known, model: ModelName, depth: number): Args {
  const roll = random();
  if (roll < 0.2) return {};
  const relations = RELATIONS[model];
  const useSelect = roll < 0.55 || relations.length === 0;
  const chosen: Args = {};
  if (useSelect) for (const field of SCALARS[model]) if (chance(random, 0.4)) chosen[field] = true;
  if (useSelect && Object.keys(chosen).length === 0) chosen[SCALARS[model][0]!] = true;
  for (const relation of relations) {
    if (depth === 0 || !chance(random, 0.45)) continue;
    chosen[relation.name] = nested(random, k, relation.to, relation.list, depth - 1);
  }
  const lists = relations.filter((relation) => relation.list);
  if (lists.length > 0 && chance(random, 0.3)) chosen._count = count(random, k, lists, depth);
  if (Object.keys(chosen).length === 0) return {};
  return { [useSelect ? "select" : "include"]: chosen };
}

function nested(random: Random, k: Known, model: ModelName, list: boolean, depth: number): unknown {
  const inner = selection(random, k, model, depth);
  const args: Args = { ...inner };
  if (list && chance(random, 0.4)) args.where = where(random, k, model, Math.min(depth, 1));
  if (list && chance(random, 0.3)) Object.assign(args, { orderBy: ORDER[model], take: 1 + Math.floor(random() * 3) });
  return Object.keys(args).length === 0 ? true : args;
}

function count(random: Random, k: Known, lists: Array<{ name: string; to: ModelName }>, depth: number): unknown {
  // `_count: true` counts every relation (to-one ones too, for the cache's dependencies); its spelled-out form the list ones.
  if (chance(random, 0.5)) return chance(random, 0.5) ? true : { select: Object.fromEntries(lists.map((relation) => [relation.name, true])) };
  const select: Args = {};
  for (const relation of lists) if (chance(random, 0.6)) select[relation.name] = chance(random, 0.6) ? true : { where: where(random, k, relation.to, Math.min(depth, 1)) };
  return Object.keys(select).length === 0 ? { select: { [lists[0]!.name]: true } } : { select };
}

function aggregate(random: Random, k: Known, model: ModelName, depth: number): Args {
  const args: Args = { where: where(random, k, model, depth) };
  args._count = chance(random, 0.5) ? true : { _all: true, [pick(random, SCALARS[model])]: true };
  const field = pick(random, GROUPABLE[model]);
  if (chance(random, 0.5)) args[pick(random, ["_min", "_max"])] = { [field]: true };
  if (model === "Event" && chance(random, 0.5)) Object.assign(args, { _sum: { price: true }, _avg: { price: true } });
  if (chance(random, 0.3)) Object.assign(args, { orderBy: ORDER[model], take: 1 + Math.floor(random() * 5) });
  return args;
}

function groupBy(random: Random, k: Known, model: ModelName, depth: number): Args {
  const by = [pick(random, GROUPABLE[model])];
  const args: Args = { by, where: where(random, k, model, depth), _count: chance(random, 0.5) ? true : { _all: true } };
  if (chance(random, 0.4)) args._max = { [pick(random, GROUPABLE[model])]: true };
  if (chance(random, 0.3)) Object.assign(args, { orderBy: by.map((field) => ({ [field]: "asc" })), take: 1 + Math.floor(random() * 3) });
  if (chance(random, 0.2)) args.having = { [by[0]!]: { _count: { gte: 1 } } };
  return args;
}

/** What a read looks like without its values: the model, the operation and the argument tree's keys. */
export function shapeOf(spec: ReadSpec): string {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== "object") return value === null ? null : typeof value;
    if ("$date" in value) return "Date";
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, strip(inner)]));
  };
  return `${spec.model}.${spec.operation} ${JSON.stringify(strip(spec.args))}${spec.fluent === undefined ? "" : `.${spec.fluent}()`}`;
}
