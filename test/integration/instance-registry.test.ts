import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { REGISTER_INSTANCE } from "../../src/stores/redis-scripts.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { routeCacheConnections } from "../helpers/connection-routes.ts";
import { HoldingProxy } from "../helpers/holding-proxy.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";
import { unwaitedWritesInARow } from "../helpers/ack-waits.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

/**
 * Every instance with a live subscription registers in `{ns}:instances` (standalone Redis too),
 * and a writer waits for at least as many acknowledgements as there are live registrations:
 * a cleanly closed instance leaves at once, a crashed one is waited for until its registration expires.
 */
describe("instance registry", () => {
  const namespace = uniqueNamespace();
  const registry = `{${namespace}}:instances`;
  const lease = { ttl: 500 };
  const a = createCachedClient({ namespace, lease });
  const admin = createRedis();
  afterAll(async () => {
    await a.close();
    admin.disconnect();
  });
  const ackTimeouts = () => a.prisma.$cache.stats().invalidationAckTimeouts;
  const liveRegistrations = async () => Number(await admin.zcount(registry, Date.now(), "+inf"));

  it("a live instance is registered; a closed one removes itself, so writers do not wait for it", async () => {
    const user = await seedUser(a.base);
    const b = createCachedClient({ namespace, lease });
    await until(async () => (await liveRegistrations()) === 2);
    await b.close();
    const before = ackTimeouts();
    await a.prisma.user.update({ where: { id: user.id }, data: { name: "after b closed" } });
    expect(ackTimeouts(), "the writer waited for an instance that had closed").toBe(before);
    expect(await liveRegistrations()).toBe(1);
  });

  it("a crashed instance's registration makes writers wait for its lease until it expires", async () => {
    const user = await seedUser(a.base);
    await until(async () => (await liveRegistrations()) === 1);
    // What a crashed instance leaves: a registration no subscriber answers for.
    await admin.zadd(registry, Date.now() + 60_000, "crashed");
    const before = ackTimeouts();
    await a.prisma.user.update({ where: { id: user.id }, data: { name: "crashed registered" } });
    expect(ackTimeouts(), "the writer waited for the registered instance's acknowledgement").toBe(before + 1);
    // Expired: no longer counted.
    await admin.zadd(registry, Date.now() - 1, "crashed");
    await a.prisma.user.update({ where: { id: user.id }, data: { name: "crashed expired" } });
    expect(ackTimeouts()).toBe(before + 1);
  });

  it("a crashed instance's bump count, kept without a lifetime while it ran, gets one when its registration lapses (outside probe 184)", async () => {
    await until(async () => (await liveRegistrations()) === 1);
    const count = `{${namespace}}:bumps:gone-writer`;
    await admin.set(count, "7");
    await admin.zadd(registry, Date.now() - 1, "gone-writer");
    // The next heartbeat (one a second) drops the registration and gives the count an hour.
    await until(async () => (await admin.pttl(count)) > 0, 5_000, 50);
    expect(await admin.pttl(count)).toBeGreaterThan(3_500_000);
    expect(await admin.zscore(registry, "gone-writer")).toBe(null);
    await admin.del(count);
  });

  it("an instance's bump count has its hour while the instance is not registered, and none again once it is (outside probe 190)", async () => {
    const user = await seedUser(a.base);
    await a.prisma.user.update({ where: { id: user.id }, data: { name: "counted" } });
    const [member] = await admin.zrangebyscore(registry, Date.now(), "+inf");
    const count = `{${namespace}}:bumps:${member}`;
    expect(await admin.pttl(count)).toBe(-1);
    // Its registration gone (a stall, a thaw): its next rollback check (four a second) gives the count its hour…
    await admin.zrem(registry, member!);
    await until(async () => (await admin.pttl(count)) > 0, 2_000, 20);
    // …and once its next heartbeat registered it again, the check after it takes the hour away.
    await until(async () => (await admin.zscore(registry, member!)) !== null && (await admin.pttl(count)) === -1, 5_000, 20);
  });

  it("registrations expire by the server's clock, whatever the instance's says (found by an outside probe: one running behind never counted as live, one ahead stayed live by its lead after it died)", async () => {
    const serverNow = async () => {
      const [seconds, micros] = await admin.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    const realNow = Date.now;
    await until(async () => (await admin.zcard(registry)) === 1);
    const [own] = await admin.zrange(registry, 0, -1);
    for (const skew of [-90_000, 90_000]) {
      Date.now = () => realNow() + skew;
      const skewed = createCachedClient({ namespace, lease });
      try {
        await until(async () => (await admin.zcard(registry)) === 2);
        const score = Number(await admin.zscore(registry, (await admin.zrange(registry, 0, -1)).find((member) => member !== own)!));
        const now = await serverNow();
        expect(score, `registered with a clock ${skew} ms off`).toBeGreaterThan(now);
        expect(score).toBeLessThan(now + 10_000);
      } finally {
        Date.now = realNow;
        await skewed.close();
      }
    }
  });

  it("a heartbeat answered late is no lapse when it was sent in time: no quiet period after it (the registration stood in Redis)", async () => {
    // The cache's command connection through a proxy that holds Redis's replies for 2.5 s once,
    // right after one heartbeat went out: what a stalled event loop or a slow link does to it.
    const proxy = await HoldingProxy.start(inject("redisUrl"));
    const redis = createRedis();
    routeCacheConnections(redis, { commands: { host: "127.0.0.1", port: proxy.port } });
    const slow = createCachedClient({ namespace: uniqueNamespace(), redis, redisTimeout: 5_000 });
    try {
      const user = await seedUser(slow.base);
      await until(async () => (await slow.prisma.user.findUnique({ where: { id: user.id } }), slow.prisma.$cache.stats().l1Hits > 0));
      await proxy.holdAfter((chunk) => chunk.includes(REGISTER_INSTANCE.sha), 2_500);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const before = slow.prisma.$cache.stats().bypasses["registration lapsed"] ?? 0;
      for (let i = 0; i < 20; i++) {
        expect((await slow.prisma.user.findUnique({ where: { id: user.id } }))?.id).toBe(user.id);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect((slow.prisma.$cache.stats().bypasses["registration lapsed"] ?? 0) - before, "reads refused in a quiet period").toBe(0);
    } finally {
      proxy.release();
      await slow.close();
      redis.disconnect();
      await proxy.stop();
    }
  });

  it("an instance sweeps a write whose writer is not registered only from a heartbeat that landed within two heartbeats of its last (a stall lets the writer's registration lapse first: found in a chaos run)", async () => {
    const scratch = `{${uniqueNamespace()}}`;
    const keys = [`${scratch}:instances`, `${scratch}:lease`, `${scratch}:schemas`, `${scratch}:seq`, `${scratch}:v:epoch`, `${scratch}:pending`];
    const [lifetime, lease, heartbeat] = [3_000, 1_000, 1_000];
    const heartbeatOf = async (member: string) => (await admin.eval(REGISTER_INSTANCE.source, keys.length, ...keys, member, lease, lifetime, "", "", heartbeat)) as [number, number, string, string[]];
    const [seconds, micros] = await admin.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    try {
      await admin.hset(keys[5]!, "token", `writer-gone\n${now - 10_000}\n${now + 60_000}\n["g:User"]`);
      // Its last renewal landed 2.5 s ago: registered still, but not renewed for two and a half heartbeats.
      await admin.zadd(keys[0]!, now - 2_500 + lifetime, "sweeper");
      expect((await heartbeatOf("sweeper"))[3], "after an irregular gap").toEqual([]);
      expect((await heartbeatOf("sweeper"))[3], "from the next, regular heartbeat").toEqual(["token", '["g:User"]']);
      // A swept record (its writer's name dropped, two newlines first: an older version cannot parse it) is never an orphan again; it goes once its marks lapse.
      await admin.hset(keys[5]!, "swept", `\n\n${now - 10_000}\n${now + 60_000}\n["g:User"]`, "swept-lapsed", `\n\n${now - 10_000}\n${now - 1}\n["g:User"]`);
      await admin.hdel(keys[5]!, "token");
      expect((await heartbeatOf("sweeper"))[3]).toEqual([]);
      expect((await admin.hkeys(keys[5]!)).sort()).toEqual(["swept"]);
    } finally {
      await admin.del(...keys);
    }
  });

  for (const lost of ["with its keys (FLUSHALL: outside probe 174)", "alone (a DEL, an eviction: outside probe 176)"] as const) it(`a registry lost ${lost} makes no writer end a live instance's subscriber connection: absences count once the registry is as old as the connections judged`, async () => {
    const scope = uniqueNamespace();
    const subscribers = async () => {
      const list = String(await admin.call("CLIENT", "LIST", "TYPE", "pubsub"));
      return new Map([...list.matchAll(new RegExp(`id=(\\d+) .*name=(\\{${scope}\\}:sub:\\S+)`, "g"))].map((match) => [match[2]!, match[1]!]));
    };
    const writer = createCachedClient({ namespace: scope });
    // The reader's command connection through a proxy that can drop what it sends: a live
    // instance whose next heartbeat has not landed yet when the registry is lost, a little longer.
    const proxy = await TcpProxy.start(Number(new URL(inject("redisUrl")).port || 6379));
    const readerRedis = createRedis();
    routeCacheConnections(readerRedis, { commands: { host: "127.0.0.1", port: proxy.port } });
    // A vanished instance's connection, which the writer's writes wait a lease for, and so sweep.
    const ghost = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1, retryStrategy: () => null, connectionName: `{${scope}}:sub:ghost` });
    let reader: ReturnType<typeof createCachedClient> | undefined;
    try {
      await ghost.subscribe(`{${scope}}:events`);
      await until(async () => (await subscribers()).size === 2);
      const writerName = [...(await subscribers()).keys()].find((name) => !name.endsWith(":ghost"))!;
      reader = createCachedClient({ namespace: scope, redis: readerRedis, redisTimeout: 500, onError: () => {} });
      const user = await seedUser(writer.base);
      await until(async () => (await subscribers()).size === 3);
      const [readerName, readerConnection] = [...(await subscribers())].find(([name]) => name !== writerName && !name.endsWith(":ghost"))!;
      // Older than a registration lifetime plus a second (4 s): connections the sweep judges.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      proxy.freezeRequests();
      await admin.del(`{${scope}}:instances`, ...(lost.startsWith("alone") ? [] : [`{${scope}}:instances:born`]));
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after the flush" } });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await subscribers()).get(readerName), "the reader's subscriber connection").toBe(readerConnection);
      // The reader's command connection is replaced (its socket timeout) and registers again; once
      // the registry is old enough, the vanished instance's connection is ended as before.
      expect(await unwaitedWritesInARow(writer, user.id, 15), "three writes in a row acknowledged by everyone PUBLISH reached").toBe(3);
      expect([...(await subscribers()).keys()].sort()).toEqual([readerName, writerName].sort());
      expect((await subscribers()).get(readerName)).toBe(readerConnection);
    } finally {
      ghost.disconnect();
      await Promise.all([writer.close(), reader?.close()]);
      readerRedis.disconnect();
      await proxy.stop();
    }
  }, 90_000);
});
