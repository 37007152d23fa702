import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replicaKeyOf } from "../../src/core/tiered-cache.ts";
import { parseCliArgs } from "../../src/cli/args.ts";
import { stats as statsCommand } from "../../src/cli/commands.ts";
import type { CacheExtensionOptions } from "../../src/index.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { onNode, RedisCluster } from "../helpers/redis-cluster.ts";
import { unwaitedWritesInARow } from "../helpers/ack-waits.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

/** The same guarantees on a 6-node Redis Cluster, where keys live on different shards. */
describe("on a Redis Cluster", () => {
  let cluster: RedisCluster;
  const connections: Cluster[] = [];
  beforeAll(async () => {
    cluster = await RedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await cluster.stop();
  });

  function instance(options: Partial<Omit<CacheExtensionOptions, "redis">> = {}) {
    const redis = cluster.connect();
    connections.push(redis);
    return createCachedClient({ redis: redis as never, ...options });
  }

  /** A subscriber connection standing for one an instance left in the server: named `name`, subscribed to the namespace's events, never back once ended. */
  async function ghostSubscriber(port: number, namespace: string, name: string): Promise<Redis> {
    const ghost = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 1, retryStrategy: () => null, connectionName: name });
    await ghost.subscribe(`{${namespace}}:events`);
    return ghost;
  }

  it("shares entries, and a write on one instance is seen at once by the other's L1", async () => {
    const namespace = uniqueNamespace();
    const a = instance({ namespace });
    const b = instance({ namespace });
    try {
      const user = await seedUser(a.base);
      const read = (c: typeof a) => c.prisma.user.findUnique({ where: { id: user.id }, include: { posts: true } });
      await read(a);
      await read(b);
      expect(b.pool.queries, "b read a's entry from the cluster").toBe(0);
      await read(a);
      await b.prisma.user.update({ where: { id: user.id }, data: { name: "written on b" } });
      expect((await read(a))?.name).toBe("written on b");
      expect(b.prisma.$cache.stats()).toMatchObject({ invalidationsQueued: 0, invalidationAckTimeouts: 0 });
      expect(a.prisma.$cache.stats().redisErrors).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("keeps one loader for the fleet", async () => {
    const namespace = uniqueNamespace();
    const a = instance({ namespace });
    const b = instance({ namespace });
    try {
      const user = await seedUser(a.base);
      a.pool.delayMs = 200;
      b.pool.delayMs = 200;
      const read = (c: typeof a) => c.prisma.post.findFirst({ where: { authorId: user.id }, orderBy: { id: "asc" } });
      const results = await Promise.all([read(a), read(a), read(b), read(b)]);
      expect(new Set(results.map((post) => post?.id)).size).toBe(1);
      expect(a.prisma.$cache.stats().dbLoads + b.prisma.$cache.stats().dbLoads).toBe(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("shares the Bloom filter across instances", async () => {
    const namespace = uniqueNamespace();
    const options = { namespace, models: { User: { bloom: true } } };
    const a = instance(options);
    const b = instance(options);
    try {
      await a.prisma.$cache.prepareBloom();
      await b.prisma.$cache.prepareBloom();
      expect(a.prisma.$cache.stats().bloomBuilds + b.prisma.$cache.stats().bloomBuilds).toBe(1);
      expect(await b.prisma.user.findUnique({ where: { email: "nobody-on-the-cluster@example.com" } })).toBeNull();
      expect(b.prisma.$cache.stats().bloomRejects).toBe(1);
      const email = `cluster-${Date.now()}@example.com`;
      await a.prisma.user.create({ data: { email } });
      expect((await b.prisma.user.findUnique({ where: { email } }))?.email).toBe(email);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("sweeps a write its writer abandoned (the pending writes live in the namespace's slot)", async () => {
    const namespace = uniqueNamespace();
    const a = instance({ namespace, lateCommitWindow: 30 });
    try {
      const user = await seedUser(a.base);
      const read = () => a.prisma.user.findUnique({ where: { id: user.id } });
      await until(async () => (await read(), a.prisma.$cache.stats().l1Hits > 0), 10_000);
      // A record as a writer that has gone leaves it: announced long ago, its registration absent.
      const now = Date.now();
      const admin = cluster.connect();
      connections.push(admin);
      await admin.hset(`{${namespace}}:pending`, "abandoned-token", `gone-writer\n${now - 10_000}\n${now + 60_000}\n["g:User","r:User"]`);
      await until(() => a.prisma.$cache.stats().abandonedWrites === 1, 10_000, 50);
      expect(await admin.hget(`{${namespace}}:pending`, "abandoned-token"), "swept: kept without its writer until its marks lapse").toMatch(/^\n/);
      // The sweep bumped the model's generations: the cached row no longer matches, and is loaded again.
      const queries = a.pool.queries;
      await read();
      expect(a.pool.queries).toBe(queries + 1);
    } finally {
      await a.close();
    }
  });

  it("honours a write's dirty marks: while one stands, reads of what it marks are neither served nor stored (outside probe 108: a swept write that committed late was served stale until its entry expired)", async () => {
    const namespace = uniqueNamespace();
    const a = instance({ namespace, l1: false });
    try {
      const user = await seedUser(a.base);
      const list = () => a.prisma.user.findMany({ where: { id: user.id } });
      await until(async () => (await list(), a.prisma.$cache.stats().l2Hits > 0), 10_000);
      const admin = cluster.connect();
      connections.push(admin);
      // What a sweep of a write of unknown outcome does: bump everything of the model, and mark its generation.
      await a.prisma.$cache.invalidate({ model: "User" });
      const marks = `d{${namespace}}:v:g:User`;
      await admin.zadd(marks, Date.now() + 60_000, "a-write-in-progress");
      const queries = a.pool.queries;
      const before = a.prisma.$cache.stats().bypasses["write in progress"] ?? 0;
      await list();
      await list();
      expect(a.pool.queries - queries, "read from the database, not the entry").toBe(2);
      expect((a.prisma.$cache.stats().bypasses["write in progress"] ?? 0) - before).toBe(2);
      const locks = (await Promise.all(admin.nodes("master").map((node) => node.keys(`${namespace}:*:lock`)))).flat();
      expect(locks, "no fleet lock taken for a load nobody stores").toEqual([]);
      // The write commits late, behind the cache's back, before its mark lapses: nothing read meanwhile was stored.
      await a.base.user.update({ where: { id: user.id }, data: { name: "committed late" } });
      await admin.del(marks);
      expect((await list())[0]?.name).toBe("committed late");
    } finally {
      await a.close();
    }
  });

  it("ends the subscriber connections of instances whose registration lapsed on every master, and stops waiting for them (a host gone without closing its sockets)", async () => {
    const namespace = uniqueNamespace();
    // A vanished instance's subscriber connection on each master (so on the one the bump script
    // publishes from): named as an instance names it, subscribed, never registered, never back once ended.
    const ghosts = await Promise.all(cluster.ports.slice(0, 3).map((port) => ghostSubscriber(port, namespace, `ioredis-cluster(subscriber):{${namespace}}:sub:ghost-${port}`)));
    const writer = instance({ namespace, models: { User: true } });
    try {
      const user = await seedUser(writer.base);
      // Only a connection older than a registration lifetime plus a second is judged lapsed.
      await new Promise((resolve) => setTimeout(resolve, 7_000));
      expect(await unwaitedWritesInARow(writer, user.id, 10), "three writes in a row acknowledged by everyone PUBLISH reached").toBe(3);
      const standing = await Promise.all(cluster.ports.map((port) => onNode(port, async (node) => String(await node.call("CLIENT", "LIST", "TYPE", "pubsub")))));
      expect(standing.join("\n")).not.toContain(":sub:ghost-");
    } finally {
      for (const ghost of ghosts) ghost.disconnect();
      await writer.close();
    }
  }, 90_000);

  it("ends the connections a live instance left behind on a master, which PUBLISH counts beside its new one (a subscription made again after its old connection went half-open)", async () => {
    const namespace = uniqueNamespace();
    const subscriberNames = async () => {
      const lists = await Promise.all(cluster.ports.map((port) => onNode(port, async (node) => String(await node.call("CLIENT", "LIST", "TYPE", "pubsub")))));
      return [...lists.join("\n").matchAll(new RegExp(`name=(\\S*\\{${namespace}\\}:sub:\\S+)`, "g"))].map((match) => match[1]!);
    };
    const writer = instance({ namespace, models: { User: true } });
    const ghosts: Redis[] = [];
    await until(async () => (await subscriberNames()).length === 1, 10_000);
    const [writerName] = await subscriberNames();
    const reader = instance({ namespace, models: { User: true } });
    try {
      const user = await seedUser(writer.base);
      await until(async () => (await subscriberNames()).length === 2, 10_000);
      const readerName = (await subscriberNames()).find((name) => name !== writerName)!;
      // Two connections the reader "left behind" on the master the bump script publishes from.
      const slot = Number(await onNode(cluster.ports[0]!, (node) => node.call("CLUSTER", "KEYSLOT", `{${namespace}}`)));
      const ranges = (await onNode(cluster.ports[0]!, (node) => node.call("CLUSTER", "SLOTS"))) as Array<[number, number, [string, number]]>;
      const namespaceMaster = ranges.find(([from, to]) => slot >= from && slot <= to)![2][1];
      for (let i = 0; i < 2; i++) {
        ghosts.push(await ghostSubscriber(namespaceMaster, namespace, readerName));
      }
      expect(await unwaitedWritesInARow(writer, user.id, 15), "three writes in a row acknowledged by everyone PUBLISH reached").toBe(3);
      expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toMatch(/^written/);
    } finally {
      for (const ghost of ghosts) ghost.disconnect();
      await Promise.all([writer.close(), reader.close()]);
    }
  }, 120_000);

  it("counts no entries (SCAN walks one node), and the CLI's stats says so rather than a bare dash (outside probe 248)", async () => {
    const namespace = uniqueNamespace();
    const c = instance({ namespace });
    try {
      const user = await seedUser(c.base);
      await c.prisma.user.findUnique({ where: { id: user.id } });
      expect((await c.prisma.$cache.fleetStats({ countEntries: true })).entries).toBeUndefined();
      let out = "";
      const io = { stdout: { write: (text: string) => (out += text) }, stderr: { write: (text: string) => (out += text) } };
      const status = await statsCommand(c.prisma as never, parseCliArgs(["stats", "--client", "unused.js"]), io);
      expect(status, out).toBe(0);
      expect(out).toContain("entries: not counted (a Redis Cluster");
    } finally {
      await c.close();
    }
  });

  it("puts a hot key's replicas in different slots", async () => {
    const redis = cluster.connect();
    connections.push(redis);
    const key = 'ns:fp:User:findUnique:{"where":{"id":n1}}';
    const slots = await Promise.all([key, replicaKeyOf(key, 1), replicaKeyOf(key, 2)].map((k) => redis.cluster("KEYSLOT", k)));
    expect(new Set(slots).size).toBe(3);
  });

  // Outside probe 164: Cluster clients on links slower than their slotsRefreshTimeout never became
  // ready; every write resolved undelivered, and the only word of it was ioredis's bare message.
  it("names slotsRefreshTimeout when the Cluster client cannot refresh its slots in time", async () => {
    const redis = cluster.connect({ slotsRefreshTimeout: 1 });
    connections.push(redis);
    const reports: string[] = [];
    const client = createCachedClient({ namespace: uniqueNamespace(), redis: redis as never, onError: (error) => reports.push(error.message) });
    try {
      const user = await seedUser(client.base);
      await until(async () => {
        // Reads still go to the database while Redis cannot be reached.
        expect((await client.prisma.user.findUnique({ where: { id: user.id } }))?.id).toBe(user.id);
        return reports.some((message) => message.includes("slotsRefreshTimeout"));
      }, 15_000, 100);
      expect(reports.find((message) => message.includes("slotsRefreshTimeout"))).toMatch(/Failed to refresh slots cache.*raise slotsRefreshTimeout above the worst round trip/);
    } finally {
      await client.close().catch(() => {});
    }
  }, 30_000);
});
