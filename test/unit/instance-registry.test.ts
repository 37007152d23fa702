import { describe, expect, it } from "vitest";
import { InstanceRegistry } from "../../src/invalidation/instance-registry.ts";
import type { RedisStore } from "../../src/stores/redis-store.ts";
import { until } from "../helpers/wait.ts";

describe("InstanceRegistry", () => {
  it("trusts no fleet lease longer than lease.ttl allows: a foreign or corrupt {ns}:lease made writes wait forever (outside probe 159)", async () => {
    for (const [stored, expected] of [
      [1_796_562_097_792_393, 60_000],
      [5_000, 5_000],
      [100, 500],
    ] as const) {
      const store = { addToRegistry: async () => ({ longestLeaseMs: stored, schemas: 1, epochBumped: false, orphans: [] }), removeFromRegistry: async () => 0 } as unknown as RedisStore;
      const registry = new InstanceRegistry(store, { key: "k", bornKey: "b", leaseKey: "l", pendingKey: "p", bumpCountPrefix: "c:" }, "me", 500, { key: "s", seenKey: "z", sequenceKey: "q", epochKey: "e", member: "m", databasePrefix: "d|" }, { onRegistered: () => {}, onEpochBumped: () => {}, onOrphanedWrites: () => {}, onError: () => {} });
      registry.live = true;
      await until(() => registry.fleetLeaseMs !== 500 || expected === 500, 2_000, 5);
      expect(registry.fleetLeaseMs, `stored ${stored}`).toBe(expected);
      registry.live = false;
    }
  });
});
