import { afterAll, expect, it } from "vitest";
import { createCachedClient } from "../helpers/client.ts";
import { liveHeapBytes } from "../helpers/live-heap.ts";

/**
 * Distinct reads with large arguments keep nothing of them beyond what plain Prisma keeps (its
 * own history of the last 100 calls): an outside probe measured 1 MB of heap kept per distinct
 * `findMany` filtering by a 1 MB string, with every cache setting, until the key interner stopped
 * keeping long values (and the query statistics their arguments).
 */
const client = createCachedClient();
afterAll(() => client.close());

it("keeps no copy of a large filter value per distinct read", async () => {
  const read = (i: number) => client.prisma.user.findMany({ where: { name: `${"x".repeat(200_000)}${i}` } });
  // Prisma's own history of the last 100 calls fills first: measured after it is full.
  for (let i = 0; i < 150; i++) await read(i);
  const before = liveHeapBytes();
  for (let i = 150; i < 450; i++) await read(i);
  const grown = (liveHeapBytes() - before) / 2 ** 20;
  // 300 reads of 200 000 one-byte characters: 60 MB if each value were kept.
  console.log(`300 distinct reads of a 200 KB filter: heap grew ${grown.toFixed(1)} MiB`);
  expect(grown, `heap grew ${grown.toFixed(1)} MiB`).toBeLessThan(20);
}, 120_000);
