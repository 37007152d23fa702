import { afterAll, expect, it } from "vitest";
import type { CacheError } from "../../src/index.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";

/**
 * A result larger than `maxEntrySize` is served (and kept in L1), but not stored in Redis, where
 * reading and writing one value of tens of megabytes blocks the server for every client (an outside
 * probe: an 85 MB findMany made each lookup block Redis 1.5–3.7 s, and the entry never served a hit).
 */
const namespace = uniqueNamespace();
const errors: CacheError[] = [];
const withL1 = createCachedClient({ namespace, maxEntrySize: 2_048, onError: (error) => errors.push(error) });
const withoutL1 = createCachedClient({ namespace, maxEntrySize: 2_048, l1: false });
afterAll(() => Promise.all([withL1.close(), withoutL1.close()]));

it("serves a result over maxEntrySize, keeps it in L1, never stores it in Redis, and says so once", async () => {
  const users = await Promise.all(Array.from({ length: 20 }, () => seedUser(withL1.base, { name: "x".repeat(200) })));
  const ids = users.map((user) => user.id);
  const big = { where: { id: { in: ids } }, orderBy: { id: "asc" as const } };
  const small = { where: { id: ids[0]! } };
  const plain = await withL1.base.user.findMany(big);
  expect(await withL1.prisma.user.findMany(big)).toEqual(plain);
  expect(await withL1.prisma.user.findMany(big)).toEqual(plain);
  expect(withL1.prisma.$cache.stats()).toMatchObject({ oversizeEntries: 1, l1Hits: 1, dbLoads: 1 });
  // A small read of the same model is stored as usual.
  await withL1.prisma.user.findUnique(small);
  await withL1.prisma.$cache.drain();
  const keys = (await withL1.redis!.keys(`${namespace}:*`)).filter((key) => !key.endsWith(":lock"));
  expect(keys).toHaveLength(1);
  // Another instance without L1 loads it every time, without waiting on a lock for a value that never lands.
  for (let i = 0; i < 3; i++) expect(await withoutL1.prisma.user.findMany(big)).toEqual(plain);
  expect(withoutL1.prisma.$cache.stats()).toMatchObject({ oversizeEntries: 3, dbLoads: 3, lockWaitTimeouts: 0 });
  expect(await withoutL1.prisma.user.findUnique(small)).toEqual(await withL1.base.user.findUnique(small));
  expect(withoutL1.prisma.$cache.stats().l2Hits).toBe(1);
  // Reported once per model (a loaded machine may add Redis timeouts: not counted here).
  expect(errors.filter((error) => error.code === "E_ENTRY_TOO_LARGE")).toHaveLength(1);
});
