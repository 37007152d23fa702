import { createParam } from "@prisma/client/runtime/client";
import { isScalarObject } from "../invalidation/relation-walk.js";
import { encodePrismaArgValue } from "./prisma-values.js";

/**
 * A copy of a query's arguments as they are when the read starts. A load may run after its
 * caller moved on — a background refresh (stale-while-revalidate, early refresh) always does —
 * and callers reuse one arguments object (`args.where.id = next; await findUnique(args)`), or one
 * DTO instance (`query.where.id = next`): loading with the caller's object would store the next
 * record's row under this read's key, for the fleet.
 *
 * Plain objects and arrays are copied, recursively, and so are Dates and byte arrays. Decimals
 * (immutable) and Prisma's sentinels (DbNull, field references, `Prisma.skip`) are kept. Any other
 * class instance is copied as Prisma reads it: its `toJSON()` result (which Prisma sends as it
 * is, so the copy still hands it over through `toJSON()`), else its enumerable properties,
 * inherited ones included (Prisma's serializer reads them with for-in).
 */
export function snapshotArgs<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(snapshotArgs) as T;
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Object.prototype || prototype === null) return copyOwnMembers(value, prototype) as T;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (value instanceof Buffer) return Buffer.from(value) as T;
  if (value instanceof Uint8Array) return value.slice() as T;
  if (keptAsItIs(value)) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return new ConvertedArgument(snapshotArgs(toJSON.call(value))) as T;
  const copy: Record<string, unknown> = {};
  for (const key in value) copy[key] = snapshotArgs((value as Record<string, unknown>)[key]);
  return copy as T;
}

/** A class instance's `toJSON()` result, taken when the read started and handed to Prisma the same way. */
export class ConvertedArgument {
  readonly #converted: unknown;

  constructor(converted: unknown) {
    this.#converted = converted;
  }

  toJSON(): unknown {
    return this.#converted;
  }
}

/** Own enumerable members (symbol keys too) of a plain or null-prototype object, each copied. */
function copyOwnMembers(value: object, prototype: object | null): Record<string | symbol, unknown> {
  const copy: Record<string | symbol, unknown> = prototype === null ? Object.create(null) : {};
  for (const key of Reflect.ownKeys(value)) {
    if (!Object.getOwnPropertyDescriptor(value, key)!.enumerable) continue;
    copy[key] = snapshotArgs((value as Record<string | symbol, unknown>)[key]);
  }
  return copy;
}

const Param = createParam("").constructor;

/** Values Prisma recognises before reading an object's members (the scalars left are immutable, or rare views), and Prisma's own. */
function keptAsItIs(value: object): boolean {
  return isScalarObject(value) || value instanceof Param || encodePrismaArgValue(value) !== undefined || (value as { __prismaRawParameters__?: unknown }).__prismaRawParameters__ === true;
}
