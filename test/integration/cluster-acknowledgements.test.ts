import { describe, expect, it } from "vitest";
import { uniqueNamespace } from "../helpers/client.ts";
import { privateCluster } from "../helpers/cluster-fixture.ts";
import { onNode } from "../helpers/redis-cluster.ts";
import { seedUser } from "../helpers/seed.ts";
import { untilServedFromL1 } from "../helpers/wait.ts";

/** PUBLISH calls a node ran since its statistics were reset, scripts' included. */
async function publishesOn(port: number): Promise<number> {
  const stats = await onNode(port, (node) => node.info("commandstats"));
  return Number(/^cmdstat_publish:calls=(\d+)/m.exec(stats)?.[1] ?? 0);
}

/**
 * Outside probe 210: a reader acknowledged an invalidation with a keyless PUBLISH, which an
 * ioredis Cluster sends to any node of its pool — also one removed from the cluster (reset, still
 * running) that stays there until the slots are next refreshed, where it reached nobody: a third
 * of the writes waited the whole lease. Acknowledgements go through the namespace's node, as
 * heartbeats and bumps do: no other master receives a PUBLISH from the fleet.
 */
describe("acknowledgements on a Redis Cluster", () => {
  const { cluster, instance } = privateCluster();

  it("are published from the namespace's node only", async () => {
    const namespace = uniqueNamespace();
    const reader = instance(namespace);
    const writer = instance(namespace);
    const user = await seedUser(writer.base);
    await untilServedFromL1(() => reader.prisma.$cache.stats().l1Hits, () => reader.prisma.user.findUnique({ where: { id: user.id } }));
    const namespaceSlot = Number(await onNode(cluster().ports[0]!, (node) => node.call("CLUSTER", "KEYSLOT", `{${namespace}}`)));
    const ranges = (await onNode(cluster().ports[0]!, (node) => node.call("CLUSTER", "SLOTS"))) as Array<[number, number, [string, number]]>;
    const masters = [...new Set(ranges.map((range) => range[2][1]))];
    const namespaceNode = ranges.find(([from, to]) => namespaceSlot >= from && namespaceSlot <= to)![2][1];
    await Promise.all(masters.map((port) => onNode(port, (node) => node.config("RESETSTAT"))));
    const acknowledged = reader.prisma.$cache.stats();
    for (let i = 0; i < 20; i++) await writer.prisma.user.update({ where: { id: user.id }, data: { name: `n${i}` } });
    expect(writer.prisma.$cache.stats().invalidationAckTimeouts ?? 0).toBe(0);
    expect(reader.prisma.$cache.stats().invalidationsReceived).toBeGreaterThanOrEqual(acknowledged.invalidationsReceived + 20);
    for (const port of masters.filter((port) => port !== namespaceNode)) expect(await publishesOn(port), `master ${port}`).toBe(0);
    expect(await publishesOn(namespaceNode)).toBeGreaterThanOrEqual(40);
  });
});
