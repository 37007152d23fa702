/**
 * A copy of a query's arguments as they are when the read starts. A load may run after its
 * caller moved on — a background refresh (stale-while-revalidate, early refresh) always does —
 * and callers reuse one arguments object (`args.where.id = next; await findUnique(args)`): loading
 * with the caller's object would store the next record's row under this read's key, for the fleet.
 *
 * Plain objects and arrays are copied, recursively; anything else — Decimal, Date, Buffer,
 * Prisma's sentinels, a caller's class instance — is kept as it is, so Prisma sees the same values
 * (a class instance's own fields are not copied: they are read as Prisma reads them, at load time).
 */
export function snapshotArgs<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(snapshotArgs) as T;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string | symbol, unknown> = prototype === null ? Object.create(null) : {};
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    if (!descriptor.enumerable) continue;
    copy[key] = snapshotArgs((value as Record<string | symbol, unknown>)[key]);
  }
  return copy as T;
}
