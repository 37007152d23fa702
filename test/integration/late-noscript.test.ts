import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisStore, RedisTimeoutError } from "../../src/stores/redis-store.ts";
import { privateCluster } from "../helpers/cluster-fixture.ts";
import { onNode } from "../helpers/redis-cluster.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { sleep, until } from "../helpers/wait.ts";

/**
 * A script a server has not seen is answered NOSCRIPT, and loaded with EVAL. If the caller gave up
 * first (Redis was frozen), that EVAL would run after commands sent later — a write's announcement
 * after its own confirmation — so it is not sent at all; the script is loaded instead, for the next call.
 */
describe("a script the server did not know, answered after the caller gave up", () => {
  let chaos: ChaosRedis;
  beforeAll(async () => {
    chaos = await ChaosRedis.start();
  });
  afterAll(async () => {
    chaos.resume();
    await chaos.stop();
  });

  const source = "redis.call('RPUSH', KEYS[1], ARGV[1]) return 1";
  const appendScript = { source, sha: createHash("sha1").update(source).digest("hex") };

  it("is not run late (a command sent after it stays after it), only loaded for the next call", async () => {
    const redis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
    const admin = new Redis(chaos.url);
    try {
      await admin.script("FLUSH");
      const store = new RedisStore(redis, 200);
      await redis.ping();
      chaos.pause();
      let early: Promise<unknown>;
      try {
        early = store.runUnverified(appendScript, ["order"], ["first, given up"]);
        await expect(early).rejects.toBeInstanceOf(RedisTimeoutError);
        // Sent later, answered in time (the server knows nothing of either script yet).
        const late = redis.rpush("order", "second");
        chaos.resume();
        await late;
      } finally {
        chaos.resume();
      }
      // The given-up call would have been loaded with EVAL on its NOSCRIPT reply, i.e. by now.
      await sleep(200);
      expect(await admin.lrange("order", 0, -1)).toEqual(["second"]);
      // …but loaded, without running it, for the next call: on a link slower than the timeout every
      // NOSCRIPT comes late, and a script never loaded was never run (outside probe 161).
      await until(async () => ((await admin.script("EXISTS", appendScript.sha)) as number[])[0] === 1);
      expect(await store.runUnverified(appendScript, ["order"], ["next call"])).toBe(1);
      await admin.del("order");
      await admin.rpush("order", "second");
      // A call that still waits is loaded and run as before.
      await admin.script("FLUSH");
      expect(await store.runUnverified(appendScript, ["order"], ["third"])).toBe(1);
      await until(async () => (await admin.llen("order")) === 2);
      expect(await admin.lrange("order", 0, -1)).toEqual(["second", "third"]);
    } finally {
      redis.disconnect();
      admin.disconnect();
    }
  });
});

describe("on a Cluster, a script answered NOSCRIPT after the caller gave up", () => {
  const { cluster } = privateCluster();

  const source = "return redis.call('INCR', KEYS[1])";
  const countScript = { source, sha: createHash("sha1").update(source).digest("hex") };

  it("is loaded on every master (SCRIPT LOAD names no key: ioredis would send it to any node)", async () => {
    const redis = cluster().connect();
    try {
      const store = new RedisStore(redis as never, 200);
      await redis.set("late-noscript", "0");
      const masters = (await Promise.all(cluster().ports.map(async (port) => ((await onNode(port, (node) => node.call("ROLE") as Promise<unknown[]>))[0] === "master" ? port : 0)))).filter((port) => port !== 0);
      for (const port of masters) await onNode(port, (node) => node.script("FLUSH"));
      const keyOwner = await ownerOf("late-noscript", masters);
      await onNode(keyOwner, (node) => node.call("CLIENT", "PAUSE", "600", "ALL"));
      await expect(store.runUnverified(countScript, ["late-noscript"], [])).rejects.toBeInstanceOf(RedisTimeoutError);
      for (const port of masters) await until(async () => ((await onNode(port, (node) => node.script("EXISTS", countScript.sha))) as number[])[0] === 1, 10_000);
      // Not run: the count is where it was, until the next call.
      expect(await redis.get("late-noscript")).toBe("0");
      expect(await store.runUnverified(countScript, ["late-noscript"], [])).toBe(1);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  /** The master serving `key`'s slot. */
  async function ownerOf(key: string, masters: number[]): Promise<number> {
    const slot = Number(await onNode(masters[0]!, (node) => node.call("CLUSTER", "KEYSLOT", key)));
    const ranges = (await onNode(masters[0]!, (node) => node.call("CLUSTER", "SLOTS"))) as Array<[number, number, [string, number]]>;
    return ranges.find(([from, to]) => slot >= from && slot <= to)![2][1];
  }
});
