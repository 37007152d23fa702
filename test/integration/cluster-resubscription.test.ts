import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { uniqueNamespace } from "../helpers/client.ts";
import { privateCluster } from "../helpers/cluster-fixture.ts";
import { seedUser } from "../helpers/seed.ts";
import { sleep, untilServedFromL1 } from "../helpers/wait.ts";

/**
 * ioredis replaces a Cluster's ended subscriber connection silently, on another node: messages
 * published in between are lost, and heartbeats sent afterwards arrive. A reader whose
 * subscription connection is killed again and again while a writer writes must never read a row
 * older than a write that resolved.
 */
describe("a Cluster subscription made again by ioredis", () => {
  const { cluster, cleanups, instance } = privateCluster();

  it("reads after each resolved write are fresh while subscriber connections are being killed", async () => {
    const namespace = uniqueNamespace();
    const reader = instance(namespace);
    const writer = instance(namespace);
    const user = await seedUser(writer.base);
    await untilServedFromL1(() => reader.prisma.$cache.stats().l1Hits, () => reader.prisma.user.findUnique({ where: { id: user.id } }));

    const admins = cluster().ports.map((port) => new Redis(port, "127.0.0.1"));
    cleanups.push(async () => admins.forEach((admin) => admin.disconnect()));
    let killing = true;
    const killer = (async () => {
      while (killing) {
        await Promise.all(admins.map((admin) => admin.call("CLIENT", "KILL", "TYPE", "pubsub").catch(() => 0)));
        await sleep(40);
      }
    })();
    const stale: string[] = [];
    try {
      for (let round = 0; round < 60; round++) {
        // Read until it is served from L1 again (bounded), so a lost invalidation would show.
        for (let attempt = 0; attempt < 20 && (await reader.prisma.user.findUnique({ where: { id: user.id } })) !== null; attempt++) {
          const hits = reader.prisma.$cache.stats().l1Hits;
          await reader.prisma.user.findUnique({ where: { id: user.id } });
          if (reader.prisma.$cache.stats().l1Hits > hits) break;
        }
        const name = `round ${round}`;
        await writer.prisma.user.update({ where: { id: user.id }, data: { name } });
        const read = await reader.prisma.user.findUnique({ where: { id: user.id } });
        if (read?.name !== name) stale.push(`${name}: read ${read?.name}`);
      }
    } finally {
      killing = false;
      await killer;
    }
    expect(stale).toEqual([]);
  }, 120_000);
});
