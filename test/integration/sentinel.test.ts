import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChild } from "../helpers/child-process.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { SENTINEL_MASTER_NAME, SentinelSetup } from "../helpers/redis-sentinel.ts";
import { until, untilServedFromL1 } from "../helpers/wait.ts";
import { databaseUrl } from "../helpers/databases.ts";

type Cached = ReturnType<typeof createCachedClient>;

/**
 * Behind Sentinel, a failover leaves the old primary writable until Sentinel next polls it (about
 * 10 s). An instance whose connections stay on it keeps its L1 lease (the old primary answers its
 * heartbeats) and hears none of the writes that instances connected since then send to the new
 * primary. The cache's own connections follow Sentinel's announcement of the switch instead.
 */
describe("behind Sentinel", () => {
  let setup: SentinelSetup;
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    setup = await SentinelSetup.start();
  }, 60_000);
  afterAll(async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
    await setup?.stop();
  });

  /** An instance that finds its Redis through the sentinel, as an app's client does: no failover detector of its own. */
  function instance(namespace: string, through = setup): Cached {
    const redis = new Redis({ ...through.clientOptions, maxRetriesPerRequest: 1 });
    redis.on("error", () => {});
    const cached = createCachedClient({ namespace, redis, models: { User: { ttl: 300 } }, onError: () => {} });
    cleanups.push(async () => {
      await cached.close();
      redis.disconnect();
    });
    return cached;
  }

  it("an instance running through a failover reads the write of one that connected after it, while the old primary still takes writes", async () => {
    const namespace = uniqueNamespace();
    const running = instance(namespace);
    const user = await running.base.user.create({ data: { email: `sentinel-${namespace}@example.com`, name: "before" } });
    await untilServedFromL1(() => running.prisma.$cache.stats().l1Hits, () => running.prisma.user.findUnique({ where: { id: user.id } }));
    await setup.replica.replicatedFrom(setup.primary);

    await setup.failover();
    const newcomer = instance(namespace);
    await newcomer.prisma.user.update({ where: { id: user.id }, data: { name: "after" } });
    // The window this is about: the old primary has not been told yet that it is one no more.
    expect(await SentinelSetup.roleOf(setup.primary)).toBe("master");

    expect((await running.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("after");
    // It moved to the new primary and fenced the namespace there.
    expect(running.prisma.$cache.stats().redisServerChanges).toBe(1);
  }, 60_000);

  it("after the sentinel restarted, the running instance still hears the next failover (its detectors reconnect within seconds, not ioredis's minute)", async () => {
    const own = await SentinelSetup.start();
    cleanups.push(() => own.stop());
    const namespace = uniqueNamespace();
    const running = instance(namespace, own);
    const user = await running.base.user.create({ data: { email: `sentinel-restart-${namespace}@example.com`, name: "before" } });
    await untilServedFromL1(() => running.prisma.$cache.stats().l1Hits, () => running.prisma.user.findUnique({ where: { id: user.id } }));
    // The command connection's detector and the subscriber's.
    await until(async () => (await own.subscribers()) >= 2, 10_000, 100);
    await own.restartSentinel();
    await until(async () => (await own.subscribers()) >= 2, 10_000, 100);
    await own.replica.replicatedFrom(own.primary);

    await own.failover();
    const newcomer = instance(namespace, own);
    await newcomer.prisma.user.update({ where: { id: user.id }, data: { name: "after" } });
    expect((await running.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("after");
  }, 90_000);

  it("a process whose cache followed Sentinel exits once it closed the cache and quit its client", async () => {
    const child = startChild<{ alive: string[] }>("closing-app.ts", {
      DATABASE_URL: databaseUrl(),
      SENTINEL_PORT: String(setup.sentinelPort),
      SENTINEL_NAME: SENTINEL_MASTER_NAME,
      NAMESPACE: uniqueNamespace(),
      USE: "1",
    }, 30_000);
    expect((await child.result).alive).toEqual([]);
  }, 60_000);
});
