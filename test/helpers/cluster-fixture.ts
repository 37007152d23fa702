import type { ClusterOptions } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { createCachedClient } from "./client.ts";
import { RedisCluster } from "./redis-cluster.ts";

/**
 * A private Redis Cluster for one describe block: started before its tests, stopped after them,
 * once every cache opened on it (`instance`) is closed and `cleanups` have run.
 */
export function privateCluster() {
  let cluster: RedisCluster | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    cluster = await RedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
    await cluster?.stop();
  });
  const started = () => {
    if (cluster === undefined) throw new Error("the cluster starts in beforeAll");
    return cluster;
  };
  return {
    cluster: started,
    cleanups,
    /** A cache of User rows on its own Cluster client (`options`: that client's). */
    instance(namespace: string, options: ClusterOptions = {}) {
      const redis = started().connect(options);
      const cached = createCachedClient({ namespace, redis: redis as never, models: { User: { ttl: 300 } }, onError: () => {} });
      cleanups.push(async () => {
        await cached.close();
        redis.disconnect();
      });
      return cached;
    },
  };
}
