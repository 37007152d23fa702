import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { onNode, RedisCluster } from "../helpers/redis-cluster.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

/**
 * A Cluster shard that fails over to a replica which had not received its last writes (replication
 * is asynchronous: a `CLUSTER FAILOVER FORCE`, a killed primary). When that shard holds the
 * namespace's keys — sequence, versions, Bloom filters — they go back. Found by outside probe 154:
 * a row created before the failover read as "not found" through the Bloom guard for minutes.
 */
describe("a Cluster shard that fails over without its last writes", () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    await cluster.stop();
  });

  /** The master holding `{namespace}`'s slot, and its replica (CLUSTER SLOTS lists replicas only once gossip told it). */
  async function namespaceShard(namespace: string): Promise<{ master: number; replica: number }> {
    const slot = Number(await onNode(cluster.ports[0]!, (node) => node.call("CLUSTER", "KEYSLOT", `{${namespace}}`)));
    const ranges = (await onNode(cluster.ports[0]!, (node) => node.call("CLUSTER", "SLOTS"))) as Array<[number, number, [string, number, string]]>;
    const [, , [, master, id]] = ranges.find(([from, to]) => slot >= from && slot <= to)!;
    let replicas: string[] = [];
    await until(async () => (replicas = (await onNode(master, (node) => node.call("CLUSTER", "REPLICAS", id))) as string[]).length > 0, 20_000, 50);
    return { master, replica: Number(/:(\d+)@/.exec(replicas[0]!)![1]) };
  }

  it("the namespace is fenced: a row created before the failover is found, and a row updated before it is read as updated", async () => {
    const namespace = uniqueNamespace();
    const options = { namespace, models: { User: { bloom: true, ttl: 300 } }, onError: () => {} };
    const connections = [cluster.connect(), cluster.connect()];
    const [writer, reader] = [createCachedClient({ ...options, redis: connections[0] as never }), createCachedClient({ ...options, redis: connections[1] as never, l1: false })];
    try {
      const updated = await seedUser(writer.base);
      await writer.prisma.$cache.prepareBloom();
      await reader.prisma.$cache.prepareBloom();
      for (const c of [writer, reader]) await c.prisma.user.findUnique({ where: { id: updated.id } });
      const { master, replica } = await namespaceShard(namespace);

      // The replica stops replicating (it cannot authenticate to its master any more)...
      await onNode(replica, async (node) => {
        await node.config("SET", "masterauth", "not-the-password");
        await node.call("CLIENT", "KILL", "TYPE", "master");
      });
      await until(async () => ((await onNode(replica, (node) => node.call("ROLE"))) as unknown[])[3] !== "connected", 10_000, 50);
      // ...while a row is created and another updated: both resolve, and read right, on the master.
      const created = await writer.prisma.user.create({ data: { email: `${namespace}-created@example.com`, name: "created before the failover" } });
      await writer.prisma.user.update({ where: { id: updated.id }, data: { name: "updated before the failover" } });
      expect((await reader.prisma.user.findUnique({ where: { email: created.email } }))?.id).toBe(created.id);

      const replicaRole = (await onNode(replica, (node) => node.call("ROLE"))) as unknown[];
      expect(replicaRole[3], "the replica did not get the writes").not.toBe("connected");
      // The replica takes over without them; the old master becomes its replica and drops them too.
      await onNode(replica, async (node) => {
        await node.call("CLUSTER", "FAILOVER", "TAKEOVER");
        await node.config("SET", "masterauth", "");
      });
      await until(async () => ((await onNode(master, (node) => node.call("ROLE"))) as unknown[])[0] === "slave", 20_000, 50);

      for (const c of [writer, reader]) {
        await until(async () => (await c.prisma.user.findUnique({ where: { email: created.email } }))?.id === created.id, 10_000, 50);
        await until(async () => (await c.prisma.user.findUnique({ where: { id: updated.id } }))?.name === "updated before the failover", 10_000, 50);
      }
      // Counted once the fence completed (the reads above can be right before: L1 is flushed as soon as the keys are seen behind).
      await until(() => writer.prisma.$cache.stats().redisServerChanges + reader.prisma.$cache.stats().redisServerChanges > 0, 10_000, 50);
      // And stays right.
      for (let i = 0; i < 20; i++) {
        for (const c of [writer, reader]) {
          expect((await c.prisma.user.findUnique({ where: { email: created.email } }))?.id).toBe(created.id);
          expect((await c.prisma.user.findUnique({ where: { id: updated.id } }))?.name).toBe("updated before the failover");
        }
      }
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      for (const connection of connections) connection.disconnect();
    }
  }, 90_000);

  it("an instance that never saw the lost writes — started after the failover, its writer gone — is fenced by the node's change: it finds the created row and reads the updated one (outside probe 230: every read stale, 3 of 3 runs)", async () => {
    const namespace = uniqueNamespace();
    const options = { namespace, models: { User: { bloom: true, ttl: 300 } }, onError: () => {} };
    const writerConnection = cluster.connect();
    const writer = createCachedClient({ ...options, redis: writerConnection as never });
    const updated = await seedUser(writer.base);
    let created: { id: number; email: string };
    try {
      await writer.prisma.$cache.prepareBloom();
      await writer.prisma.user.findUnique({ where: { id: updated.id } });
      const { master, replica } = await namespaceShard(namespace);
      await onNode(replica, async (node) => {
        await node.config("SET", "masterauth", "not-the-password");
        await node.call("CLIENT", "KILL", "TYPE", "master");
      });
      await until(async () => ((await onNode(replica, (node) => node.call("ROLE"))) as unknown[])[3] !== "connected", 10_000, 50);
      created = await writer.prisma.user.create({ data: { email: `${namespace}-created@example.com`, name: "created before the failover" } });
      await writer.prisma.user.update({ where: { id: updated.id }, data: { name: "updated before the failover" } });
      await writer.close();
      writerConnection.disconnect();
      await onNode(replica, async (node) => {
        await node.call("CLUSTER", "FAILOVER", "TAKEOVER");
        await node.config("SET", "masterauth", "");
      });
      await until(async () => ((await onNode(master, (node) => node.call("ROLE"))) as unknown[])[0] === "slave", 20_000, 50);
    } finally {
      await writer.close().catch(() => {});
      writerConnection.disconnect();
    }

    const freshConnection = cluster.connect();
    const fresh = createCachedClient({ ...options, redis: freshConnection as never });
    try {
      await fresh.prisma.$cache.prepareBloom();
      await until(async () => (await fresh.prisma.user.findUnique({ where: { email: created.email } }))?.id === created.id, 10_000, 50);
      await until(async () => (await fresh.prisma.user.findUnique({ where: { id: updated.id } }))?.name === "updated before the failover", 10_000, 50);
      expect(fresh.prisma.$cache.stats().redisServerChanges, "fenced").toBeGreaterThanOrEqual(1);
      for (let i = 0; i < 20; i++) {
        expect((await fresh.prisma.user.findUnique({ where: { email: created.email } }))?.id).toBe(created.id);
        expect((await fresh.prisma.user.findUnique({ where: { id: updated.id } }))?.name).toBe("updated before the failover");
      }
    } finally {
      await fresh.close();
      freshConnection.disconnect();
    }
  }, 90_000);

  it("a Redis user without INFO is told that the namespace's node cannot be checked (outside probe 232: the check was silently off)", async () => {
    for (const port of cluster.ports) await onNode(port, (node) => node.call("ACL", "SETUSER", "no-info", "on", ">pw", "~*", "&*", "+@all", "-info"));
    const errors: Array<{ code: string; message: string }> = [];
    const connection = cluster.connect({ redisOptions: { username: "no-info", password: "pw" } });
    const c = createCachedClient({ namespace: uniqueNamespace(), redis: connection as never, onError: (error) => errors.push(error) });
    try {
      const user = await seedUser(c.base);
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await until(() => errors.some((error) => error.code === "E_REDIS_SETTINGS" && /Cluster node does not tell its run_id/.test(error.message)), 10_000, 50);
    } finally {
      await c.close();
      connection.disconnect();
      for (const port of cluster.ports) await onNode(port, (node) => node.call("ACL", "DELUSER", "no-info"));
    }
  }, 60_000);
});
