import { describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { Codec } from "../../src/codec/codec.ts";
import { prismaDecimal } from "../../src/prisma/prisma-values.ts";
import { MemoryStore } from "../../src/stores/memory-store.ts";
import { FakeClock } from "../helpers/random.ts";

const MAX_BYTES = 32 * 1024 * 1024;
const codec = new Codec(prismaDecimal);

/** Live heap (and typed-array backing stores) after full collections. */
function liveBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --expose-gc (vitest.config.ts passes it)");
  for (let i = 0; i < 3; i++) gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function row(id: number, profile: unknown) {
  return {
    id,
    email: `user-${id}@example.com`,
    name: `User ${id}`,
    role: "ADMIN",
    balance: new Prisma.Decimal("1234567.890123"),
    visits: 9007199254740993n,
    score: 0.1 + 0.2,
    avatar: new Uint8Array([0, 1, 2, 254, 255]),
    profile,
    createdAt: new Date("2024-02-29T12:34:56.789Z"),
  };
}

/** Fills an L1 of MAX_BYTES with decoded values (as L1 holds them after a Redis hit) and returns the heap it retains. */
function retainedByFullL1(encode: (id: number) => string): { retained: number; entries: number; accounted: number } {
  const before = liveBytes();
  const clock = new FakeClock();
  const store = new MemoryStore({ maxEntries: 50_000, maxBytes: MAX_BYTES, maxTtlMs: 3_600_000 }, clock);
  let evictedFor = 0;
  for (let id = 0; evictedFor < 50 && id < 1_000_000; id++) {
    const sizeBefore = store.size;
    const value = codec.decode(encode(id));
    store.set(`ns:fingerprint:User:findUnique:{"where":{"id":${id}}}`, { value, copy: codec.copier(value), freshUntil: 1e15, staleUntil: 1e15, negative: false, loadMs: 1, deps: [[`t:User:id=[${id}]`, id]] });
    if (store.size <= sizeBefore) evictedFor++;
  }
  const retained = liveBytes() - before;
  const result = { retained, entries: store.size, accounted: store.bytes };
  store.clear();
  return result;
}

describe("L1 holds no more than l1.maxBytes of heap", () => {
  const shapes: Record<string, (id: number) => string> = {
    "ordinary rows": (id) => codec.encode(row(id, { nested: [1, null, { deep: null, list: ["a"] }], flag: true })),
    "1 MB Json values": (id) => codec.encode(row(id, Array.from({ length: 40_000 }, (_, i) => ({ k: i + id, v: `text-${i}` })))),
    "Json arrays of {}": (id) => codec.encode(row(id, Array.from({ length: 100_000 }, () => ({})))),
    "1 MB Json strings": (id) => codec.encode(row(id, { text: `${id}`.padEnd(1_000_000, "x") })),
  };
  for (const [shape, encode] of Object.entries(shapes)) {
    it(`${shape}: retained heap within 1.25 × maxBytes`, () => {
      const { retained, entries, accounted } = retainedByFullL1(encode);
      expect(entries).toBeGreaterThan(1);
      expect(accounted).toBeLessThanOrEqual(MAX_BYTES);
      expect(retained, `${entries} entries, ${(retained / 2 ** 20).toFixed(1)} MiB retained`).toBeLessThanOrEqual(1.25 * MAX_BYTES);
      // And the estimate is not so pessimistic that L1 holds a fraction of what it may.
      expect(retained, `${entries} entries, ${(retained / 2 ** 20).toFixed(1)} MiB retained`).toBeGreaterThan(0.3 * MAX_BYTES);
    });
  }
});
