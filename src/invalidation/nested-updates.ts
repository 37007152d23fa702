import { argumentView } from "./relation-walk.js";

/**
 * The data objects of the updates a nested relation write makes on the related model: `update`
 * (to-one: the data itself, or `{ where, data }`; to-many: `{ where, data }`, one or a list),
 * `updateMany` (`{ where, data }`) and `upsert` (`{ where, create, update }`). Where a shape is
 * ambiguous both readings are returned: the caller only asks whether any changes a key.
 */
export function nestedUpdateData(member: unknown): unknown[] {
  const operations = argumentView(member);
  if (typeof operations !== "object" || operations === null) return [];
  const data: unknown[] = [];
  for (const item of asList(field(operations, "update"))) data.push(item, field(item, "data"));
  for (const item of asList(field(operations, "updateMany"))) data.push(field(item, "data"));
  for (const item of asList(field(operations, "upsert"))) data.push(field(item, "update"));
  return data.map(argumentView).filter((entry) => typeof entry === "object" && entry !== null);
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** A member as Prisma reads it: of the object's toJSON() result when it has one (a DTO). */
function field(value: unknown, name: string): unknown {
  const view = argumentView(value);
  return typeof view === "object" && view !== null ? (view as Record<string, unknown>)[name] : undefined;
}
