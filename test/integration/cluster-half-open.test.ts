import { Redis } from "ioredis";
import { beforeAll, describe, expect, it } from "vitest";
import { startChild } from "../helpers/child-process.ts";
import { uniqueNamespace } from "../helpers/client.ts";
import { privateCluster } from "../helpers/cluster-fixture.ts";
import { seedUser } from "../helpers/seed.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";
import { untilServedFromL1 } from "../helpers/wait.ts";
import { databaseUrl } from "../helpers/databases.ts";

/**
 * On a Cluster too, the cache sends its commands on connections of its own, which a socket
 * timeout replaces when they go half-open: a writer whose connection to the namespace's node went
 * half-open still delivers its invalidation before its write resolves.
 */
describe("a half-open connection to a Cluster node", () => {
  const { cluster, cleanups, instance: cachedOn } = privateCluster();
  const proxies = new Map<number, TcpProxy>();
  beforeAll(async () => {
    for (const port of cluster().ports) proxies.set(port, await TcpProxy.start(port));
    cleanups.push(async () => {
      for (const proxy of proxies.values()) await proxy.stop();
    });
  });

  function instance(namespace: string, throughProxies: boolean) {
    // natMap: the nodes' addresses as the cluster announces them, reached through the proxies.
    const natMap = Object.fromEntries([...proxies].map(([port, proxy]) => [`127.0.0.1:${port}`, { host: "127.0.0.1", port: proxy.port }]));
    return cachedOn(namespace, throughProxies ? { natMap } : {});
  }

  /** The port of the master holding the namespace's slot (versions, marks, the registry). */
  async function namespaceNode(namespace: string): Promise<number> {
    const admin = new Redis(cluster().ports[0]!, "127.0.0.1");
    try {
      const slot = Number(await admin.call("CLUSTER", "KEYSLOT", `{${namespace}}`));
      const ranges = (await admin.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
      return ranges.find(([from, to]) => slot >= from && slot <= to)![2][1];
    } finally {
      admin.disconnect();
    }
  }

  it("the writer's invalidation is delivered before its write resolves, and another instance reads the write", async () => {
    const namespace = uniqueNamespace();
    const reader = instance(namespace, false);
    const writer = instance(namespace, true);
    const user = await seedUser(writer.base);
    await untilServedFromL1(() => reader.prisma.$cache.stats().l1Hits, () => reader.prisma.user.findUnique({ where: { id: user.id } }));
    // The writer has talked to the namespace's node (its registration lives there).
    await writer.prisma.user.findUnique({ where: { id: user.id } });

    proxies.get(await namespaceNode(namespace))!.freeze();
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written over a half-open connection" } });
    expect(writer.prisma.$cache.stats().undeliveredWrites).toBe(0);
    expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("written over a half-open connection");
  }, 60_000);

  it("a process whose cache used the Cluster exits once it closed the cache and quit its client", async () => {
    const child = startChild<{ alive: string[] }>("closing-app.ts", { DATABASE_URL: databaseUrl(), CLUSTER_PORT: String(cluster().ports[0]), NAMESPACE: uniqueNamespace(), USE: "1" }, 30_000);
    expect((await child.result).alive).toEqual([]);
  }, 60_000);
});
