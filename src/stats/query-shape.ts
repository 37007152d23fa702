import { sha256 } from "../key/hash.js";

/** Deeper argument structure than this is not part of a shape (it rarely changes what a query costs). */
const MAX_DEPTH = 6;

/**
 * The shape of a query: model, operation and the structure of its arguments with every value
 * left out (`{ where: { id: 1 } }` and `{ where: { id: 2 } }` have one shape). Queries of one
 * shape cost about the same to load, so their load times are averaged together: one slow load
 * of one query does not reorder queries that cost the same. Returns a short hash.
 */
export function queryShape(model: string, operation: string, args: unknown): string {
  return sha256(`${model}.${operation}:${skeleton(args, 0)}`).slice(0, 16);
}

function skeleton(value: unknown, depth: number): string {
  if (value === null || typeof value !== "object" || depth >= MAX_DEPTH) return "";
  if (Array.isArray(value)) return `[${value.length === 0 ? "" : skeleton(value[0], depth + 1)}]`;
  // Class instances (Date, Decimal, Uint8Array) are values, not structure.
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return "";
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${skeleton((value as Record<string, unknown>)[key], depth + 1)}`).join(",")}}`;
}
