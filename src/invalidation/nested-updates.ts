/**
 * The data objects of the updates a nested relation write makes on the related model: `update`
 * (to-one: the data itself, or `{ where, data }`; to-many: `{ where, data }`, one or a list),
 * `updateMany` (`{ where, data }`) and `upsert` (`{ where, create, update }`). Where a shape is
 * ambiguous both readings are returned: the caller only asks whether any changes a key.
 */
export function nestedUpdateData(member: unknown): unknown[] {
  if (typeof member !== "object" || member === null) return [];
  const operations = member as Record<string, unknown>;
  const data: unknown[] = [];
  for (const item of asList(operations.update)) data.push(item, field(item, "data"));
  for (const item of asList(operations.updateMany)) data.push(field(item, "data"));
  for (const item of asList(operations.upsert)) data.push(field(item, "update"));
  return data.filter((entry) => typeof entry === "object" && entry !== null);
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}
