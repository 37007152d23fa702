import { describe, expect, it } from "vitest";
import { uniqueNamespace } from "../helpers/client.ts";
import { privateCluster } from "../helpers/cluster-fixture.ts";
import { onNode } from "../helpers/redis-cluster.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, until, untilServedFromL1 } from "../helpers/wait.ts";

const READER_NAME = "pcs-deaf-reader";

/**
 * A Cluster of its own (a test leaves a node reset, out of the cluster) and a way to make a reader
 * deaf there: see deafReader.
 */
function deafReaders() {
  const { cluster, instance: cachedOn } = privateCluster();
  const instance = (namespace: string, connectionName?: string) => cachedOn(namespace, connectionName === undefined ? {} : { redisOptions: { connectionName } });

  /** The node the instance named `name` is subscribed on. */
  async function subscriptionOf(name: string): Promise<number> {
    let subscribedAt = 0;
    await until(async () => {
      for (const port of cluster().ports) {
        const clients = await onNode(port, (node) => node.call("CLIENT", "LIST", "TYPE", "pubsub") as Promise<string>);
        // ioredis names a Cluster's subscriber connection "ioredis-cluster(subscriber):<connectionName>", the cache "<connectionName>/{<namespace>}:sub:<instance>".
        if (clients.includes(`:${name}/`)) subscribedAt = port;
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

  /**
   * A reader serving a user from L1, subscribed on a replica that is not the namespace's node,
   * which is then cut off from the cluster bus: it hears no invalidation any more.
   */
  async function deafReader() {
    const namespace = uniqueNamespace();
    const reader = instance(namespace, READER_NAME);
    const writer = instance(namespace);
    const user = await seedUser(writer.base);

    // A master holding slots cannot be reset: the reader's subscription must be on a replica (a failover may move it).
    let subscribedAt = await subscriptionOf(READER_NAME);
    // Not the namespace's node: demoting and resetting it would also cut the writer off from its versions for a while.
    const namespaceSlot = Number(await onNode(cluster().ports[0]!, (node) => node.call("CLUSTER", "KEYSLOT", `{${namespace}}`)));
    const namespaceMaster = async (port: number) => {
      const ranges = (await onNode(port, (node) => node.call("CLUSTER", "SLOTS"))) as Array<[number, number, [string, number]]>;
      return ranges.find(([from, to]) => namespaceSlot >= from && namespaceSlot <= to)![2][1];
    };
    for (let attempt = 0; (await namespaceMaster(subscribedAt)) === subscribedAt; attempt++) {
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
    // Asked before the reset: a node reset knows no slots (an earlier test's may still be out of the cluster).
    const master = await namespaceMaster(subscribedAt);
    await onNode(subscribedAt, (node) => node.call("CLUSTER", "RESET", "SOFT"));
    return { reader, writer, user, namespaceMaster: master };
  }
  return deafReader;
}

/**
 * On a Cluster a subscriber receives other nodes' messages over the cluster bus. A node cut off
 * from the bus (here: `CLUSTER RESET` of the replica the subscription landed on) keeps its
 * clients connected and delivers nothing. The reader's L1 lease must lapse then, as it does when
 * a single server stops answering: a write that waited for the reader's lease is read fresh.
 */
describe("a Cluster node that no longer hears the cluster bus", () => {
  const deafReader = deafReaders();

  it("the reader's L1 lease lapses, and it reads a write that waited for it", async () => {
    const { reader, writer, user } = await deafReader();
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written while the reader's node was deaf" } });
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("written while the reader's node was deaf");
  }, 90_000);
});

describe("a Cluster whose namespace shard was flushed", () => {
  const deafReader = deafReaders();

  // The registry of live instances lives on the namespace's shard: flushed with it, a write counted
  // no receivers but the subscribers of that node, resolved without waiting for the deaf reader,
  // and the reader served the old row from L1 (outside probe 158 saw such reads after a FLUSHALL
  // of the namespace's shard, up to 0.7 s after the fence).
  it("after a flush of the namespace's shard, which took the registry of instances with it, a write still waits for the reader", async () => {
    const { reader, writer, user, namespaceMaster } = await deafReader();
    await onNode(namespaceMaster, (node) => node.call("FLUSHALL"));
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written after the namespace's shard was flushed" } });
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("written after the namespace's shard was flushed");
  }, 90_000);
});
