import { describe, expect, it } from "vitest";
import { uniqueNamespace } from "../helpers/client.ts";
import { privateCluster } from "../helpers/cluster-fixture.ts";
import { onNode } from "../helpers/redis-cluster.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until, untilServedFromL1 } from "../helpers/wait.ts";

const READER_NAME = "pcs-deaf-reader";

/**
 * On a Cluster a subscriber receives other nodes' messages over the cluster bus. A node cut off
 * from the bus (here: `CLUSTER RESET` of the replica the subscription landed on) keeps its
 * clients connected and delivers nothing. The reader's L1 lease must lapse then, as it does when
 * a single server stops answering: a write that waited for the reader's lease is read fresh.
 */
describe("a Cluster node that no longer hears the cluster bus", () => {
  const { cluster, instance: cachedOn } = privateCluster();
  const instance = (namespace: string, connectionName?: string) => cachedOn(namespace, connectionName === undefined ? {} : { redisOptions: { connectionName } });

  /** The node the instance named `name` is subscribed on. */
  async function subscriptionOf(name: string): Promise<number> {
    let subscribedAt = 0;
    await until(async () => {
      for (const port of cluster().ports) {
        const clients = await onNode(port, (node) => node.call("CLIENT", "LIST", "TYPE", "pubsub") as Promise<string>);
        // ioredis names a Cluster's subscriber connection "ioredis-cluster(subscriber):<connectionName>".
        if (clients.includes(`:${name} `)) subscribedAt = port;
      }
      return subscribedAt !== 0;
    }, 10_000);
    return subscribedAt;
  }

  const roleOf = async (port: number) => ((await onNode(port, (node) => node.call("ROLE") as Promise<unknown[]>))[0] as string);

  /** Makes the master at `port` a replica (its replica takes over), so that it can be reset. */
  async function demote(port: number): Promise<void> {
    const id = await onNode(port, (node) => node.call("CLUSTER", "MYID") as Promise<string>);
    let replicaLines: string[] = [];
    await until(async () => (replicaLines = await onNode(port, (node) => node.call("CLUSTER", "REPLICAS", id) as Promise<string[]>)).length > 0, 20_000, 50);
    const replicaPort = Number(/:(\d+)@/.exec(replicaLines[0]!)![1]);
    // TAKEOVER: no election to lose on a loaded machine; the old master learns it is a replica by gossip.
    await onNode(replicaPort, (node) => node.call("CLUSTER", "FAILOVER", "TAKEOVER"));
    await until(async () => (await roleOf(port)) === "slave", 20_000, 50);
  }

  it("the reader's L1 lease lapses, and it reads a write that waited for it", async () => {
    const namespace = uniqueNamespace();
    const reader = instance(namespace, READER_NAME);
    const writer = instance(namespace);
    const user = await seedUser(writer.base);

    // A master holding slots cannot be reset: the reader's subscription must be on a replica (a failover may move it).
    let subscribedAt = await subscriptionOf(READER_NAME);
    // Not the namespace's node: demoting and resetting it would also cut the writer off from its versions for a while.
    const namespaceSlot = await onNode(cluster().ports[0]!, (node) => node.call("CLUSTER", "KEYSLOT", `{${namespace}}`));
    const ownsNamespace = async (port: number) => {
      const ranges = (await onNode(port, (node) => node.call("CLUSTER", "SLOTS"))) as Array<[number, number, [string, number]]>;
      return ranges.some(([from, to, [, owner]]) => owner === port && Number(namespaceSlot) >= from && Number(namespaceSlot) <= to);
    };
    for (let attempt = 0; await ownsNamespace(subscribedAt); attempt++) {
      if (attempt === 30) throw new Error("the reader's subscription stayed on the namespace's node");
      await onNode(subscribedAt, (node) => node.call("CLIENT", "KILL", "TYPE", "pubsub"));
      await sleep(100);
      subscribedAt = await subscriptionOf(READER_NAME);
    }
    for (let attempt = 0; (await roleOf(subscribedAt)) === "master"; attempt++) {
      if (attempt === 3) throw new Error("the reader's subscription stayed on a master");
      await demote(subscribedAt);
      subscribedAt = await subscriptionOf(READER_NAME);
    }
    await untilServedFromL1(() => reader.prisma.$cache.stats().l1Hits, () => reader.prisma.user.findUnique({ where: { id: user.id } }));
    expect(await subscriptionOf(READER_NAME)).toBe(subscribedAt);
    await onNode(subscribedAt, (node) => node.call("CLUSTER", "RESET", "SOFT"));

    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written while the reader's node was deaf" } });
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("written while the reader's node was deaf");
  }, 90_000);
});
