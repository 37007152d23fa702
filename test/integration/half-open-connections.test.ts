import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { channelsOf } from "../../src/invalidation/wire-format.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";
import { sleep, until } from "../helpers/wait.ts";
import { routeCacheConnections } from "../helpers/connection-routes.ts";

/**
 * A half-open connection: both ends still open, nothing passing (a middlebox that lost the flow,
 * a peer gone without a FIN). Found by an outside probe: on the subscriber connection, the lease
 * heartbeat stayed unanswered forever, so the instance served no L1, and the server kept counting
 * the dead subscription among PUBLISH's receivers, so every write in the fleet waited a lease for it.
 */
/**
 * A private Redis with a TCP proxy in front. `own` takes what the test opened (clients, then the
 * caches on them), closed in reverse after the test, before the proxy and the server stop.
 */
async function withProxiedRedis(test: (parts: { chaos: ChaosRedis; proxy: TcpProxy; own: <T>(opened: T, close: (opened: T) => unknown) => T }) => Promise<void>): Promise<void> {
  const chaos = await ChaosRedis.start();
  const proxy = await TcpProxy.start(chaos.port);
  const closers: Array<() => unknown> = [];
  try {
    await test({ chaos, proxy, own: (opened, close) => (closers.push(() => close(opened)), opened) });
  } finally {
    for (const close of closers.reverse()) await close();
    await proxy.stop();
    await chaos.stop();
  }
}

const disconnect = (redis: Redis) => redis.disconnect();
const close = (client: { close(): Promise<void> }) => client.close();

/** A reader whose commands go straight to Redis and whose subscriber connection goes through the proxy, and a writer going straight to Redis. */
function readerBehindProxy({ chaos, proxy, own }: Parameters<Parameters<typeof withProxiedRedis>[0]>[0]) {
  const namespace = uniqueNamespace();
  const readerRedis = own(new Redis(chaos.url, { maxRetriesPerRequest: 1 }), disconnect);
  routeCacheConnections(readerRedis, { subscriber: { host: "127.0.0.1", port: proxy.port } });
  const reader = own(createCachedClient({ namespace, redis: readerRedis, models: { User: true } }), close);
  const writerRedis = own(new Redis(chaos.url, { maxRetriesPerRequest: 1 }), disconnect);
  const writer = own(createCachedClient({ namespace, redis: writerRedis, models: { User: true } }), close);
  return { namespace, reader, writer };
}

describe("a half-open subscriber connection", () => {
  it("is dropped and replaced: L1 answers again, and the server no longer counts the old one, so writes are acknowledged by all", () =>
    withProxiedRedis(async ({ chaos, proxy, own }) => {
      const admin = own(new Redis(chaos.url), disconnect);
      const { namespace, reader, writer } = readerBehindProxy({ chaos, proxy, own });
      const events = channelsOf(`{${namespace}}`, 0).events;
      const subscribers = async () => ((await admin.pubsub("NUMSUB", events)) as [string, number])[1];
      const user = await seedUser(writer.base);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      const l1Hits = () => reader.prisma.$cache.stats().l1Hits;
      await until(async () => (await read(), l1Hits() > 0), 10_000);
      await until(async () => (await subscribers()) === 2, 10_000);

      proxy.freeze();
      // The lease lapses (no heartbeat answered): L1 stops answering.
      await sleep(1_500);
      await read();
      const before = l1Hits();
      // The subscriber's socket times out, reconnects (new connections pass) and subscribes again.
      await until(async () => (await read(), l1Hits() > before), 20_000, 50);
      await until(async () => (await subscribers()) === 2, 5_000);

      const timeouts = writer.prisma.$cache.stats().invalidationAckTimeouts;
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after the half-open subscriber" } });
      expect(writer.prisma.$cache.stats().invalidationAckTimeouts, "every subscriber the server counts acknowledged the write").toBe(timeouts);
      expect((await read())?.name).toBe("after the half-open subscriber");
    }), 60_000);

  it("that still receives (only its sends are lost) is replaced while the fleet keeps writing: every message re-arms the socket timer, the unanswered heartbeat does not (outside probe 153)", () =>
    withProxiedRedis(async ({ chaos, proxy, own }) => {
      const { reader, writer } = readerBehindProxy({ chaos, proxy, own });
      const [user, other] = [await seedUser(writer.base), await seedUser(writer.base)];
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      const l1Hits = () => reader.prisma.$cache.stats().l1Hits;
      await until(async () => (await read(), l1Hits() > 0), 10_000);

      // Writes to another row every 100 ms: each one's invalidation reaches the reader's subscriber.
      let writing = true;
      let written = 0;
      const writes = (async () => {
        while (writing) {
          await writer.prisma.user.update({ where: { id: other.id }, data: { name: `write ${++written}` } });
          await sleep(100);
        }
      })();
      try {
        proxy.freezeRequests();
        const accepted = proxy.accepted;
        await sleep(1_500);
        await read();
        const before = l1Hits();
        // The heartbeat goes unanswered for the subscriber's socket timeout (5 s): dropped, reconnected, subscribed again.
        await until(async () => (await read(), l1Hits() > before), 20_000, 50);
        expect(proxy.accepted, "the subscriber reconnected").toBeGreaterThan(accepted);
      } finally {
        writing = false;
        await writes;
      }
      expect(written, "the fleet kept writing while the subscriber could not send").toBeGreaterThan(20);
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "after the one-way subscriber" } });
      expect((await read())?.name).toBe("after the one-way subscriber");
    }), 60_000);

  it("a writer whose command connection is half-open delivers its write on a new connection before it resolves: no reader serves the old row after it", () =>
    withProxiedRedis(async ({ chaos, proxy, own }) => {
      const namespace = uniqueNamespace();
      // Every connection of the writer (the one it is given, and those the cache opens) goes through the proxy.
      const writerRedis = own(new Redis(proxy.url, { maxRetriesPerRequest: 1 }), disconnect);
      const writer = own(createCachedClient({ namespace, redis: writerRedis, models: { User: true } }), close);
      const readerRedis = own(new Redis(chaos.url, { maxRetriesPerRequest: 1 }), disconnect);
      const reader = own(createCachedClient({ namespace, redis: readerRedis, models: { User: true } }), close);
      const user = await seedUser(writer.base);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      const l1Hits = () => reader.prisma.$cache.stats().l1Hits;
      await until(async () => (await read(), l1Hits() > 0), 10_000);
      // The writer is live in the fleet before its connections half-open.
      await until(async () => (await writer.prisma.user.findUnique({ where: { id: user.id } }), writer.prisma.$cache.stats().l1Hits > 0), 10_000);

      proxy.freeze();
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written over a half-open connection" } });
      expect((await read())?.name, "the reader's first read after the write resolved").toBe("written over a half-open connection");
      expect(writer.prisma.$cache.stats().undeliveredWrites, "the write's invalidation reached the fleet before it resolved").toBe(0);
      // The user's own connection is the user's: the cache never replaced it, so it is still half-open.
      expect(await Promise.race([writerRedis.ping().then(() => "answered", () => "failed"), sleep(1_000).then(() => "no answer")])).toBe("no answer");
    }), 60_000);

  it("a connection dropped with a command in flight is not dropped again when that command's socket timer fires (ioredis leaves it armed; found by an outside probe)", () =>
    withProxiedRedis(async ({ chaos, proxy, own }) => {
      // Only the cache's command connection goes through the proxy.
      const redis = own(new Redis(chaos.url, { maxRetriesPerRequest: 1 }), disconnect);
      routeCacheConnections(redis, { commands: { host: "127.0.0.1", port: proxy.port } });
      const client = own(createCachedClient({ namespace: uniqueNamespace(), redis, models: { User: true } }), close);
      const user = await seedUser(client.base);
      await client.prisma.user.findUnique({ where: { id: user.id } });
      expect(proxy.accepted).toBe(1);
      // A command in flight (Redis stopped), then its socket dropped, and a new connection made.
      chaos.pause();
      const inFlight = client.prisma.user.count({ where: { id: user.id } });
      await sleep(100);
      proxy.cut();
      proxy.restore();
      chaos.resume();
      await inFlight;
      await until(() => proxy.accepted === 2, 10_000);
      // Past the socket timeout (2 s) of the command that was in flight: the new connection stays.
      const until3s = Date.now() + 3_000;
      while (Date.now() < until3s) {
        await client.prisma.user.findUnique({ where: { id: user.id } });
        await sleep(50);
      }
      expect(proxy.accepted, "connections the cache opened through the proxy").toBe(2);
    }), 60_000);

  it("without +client (CLIENT ID and CLIENT KILL refused) the cache works, and says once what it cannot do", async () => {
    const chaos = await ChaosRedis.start();
    const admin = new Redis(chaos.url);
    await admin.call("ACL", "SETUSER", "cache", "on", ">pw", "~*", "&*", "+@all", "-client");
    const redis = new Redis({ port: chaos.port, username: "cache", password: "pw", maxRetriesPerRequest: 1 });
    const reported: string[] = [];
    const client = createCachedClient({ namespace: uniqueNamespace(), redis, models: { User: true }, onError: (error) => void reported.push(error.message) });
    try {
      const user = await seedUser(client.base);
      await until(async () => (await client.prisma.user.findUnique({ where: { id: user.id } }), client.prisma.$cache.stats().l1Hits > 0), 10_000);
      expect(reported.filter((message) => message.includes("grant +client"))).toHaveLength(1);
    } finally {
      await client.close();
      redis.disconnect();
      admin.disconnect();
      await chaos.stop();
    }
  }, 60_000);
});

describe("a stall of this process longer than the cache's socket timeout (outside probe 152)", () => {
  it("does not drop a healthy connection whose reply waited unread on the socket: no socket timeout, no open circuit, the next write announced", () =>
    withProxiedRedis(async ({ chaos, own }) => {
      const redis = own(new Redis(chaos.url, { maxRetriesPerRequest: 1 }), disconnect);
      const admin = own(new Redis(chaos.url), disconnect);
      const errors: string[] = [];
      // l1 off: every read sends a command. redisTimeout 250 ms: the cache's socket timeout is 2 s.
      const c = own(createCachedClient({ namespace: uniqueNamespace(), redis, redisTimeout: 250, l1: false, onError: (error) => errors.push(error.message) }), close);
      const user = await seedUser(c.base);
      await c.prisma.user.findUnique({ where: { id: user.id } });
      await c.prisma.user.update({ where: { id: user.id }, data: { name: "before the stalls" } });
      for (let round = 0; round < 3; round++) {
        // Redis holds the next command's reply back 150 ms, so it is in flight when the stall begins.
        await admin.call("CLIENT", "PAUSE", "150");
        const read = c.prisma.user.findUnique({ where: { id: user.id } }).then((row) => row?.name);
        await sleep(20);
        // From a setImmediate callback: the loop then runs due timers before it polls the socket
        // (a stall inside a timer callback would be followed by the poll, which reads the reply first).
        await new Promise((resolve) => setImmediate(resolve));
        // A synchronous stall (a long loop, a GC pause): the reply arrives meanwhile and waits unread.
        const until = Date.now() + 2_500;
        while (Date.now() < until);
        expect(await read).toBe("before the stalls");
        await sleep(200);
      }
      expect(errors.filter((message) => /Socket timeout/.test(message))).toEqual([]);
      expect(c.prisma.$cache.stats().circuitOpens).toBe(0);
      await c.prisma.user.update({ where: { id: user.id }, data: { name: "after the stalls" } });
      expect(c.prisma.$cache.stats().unannouncedWrites).toBe(0);
      expect((await c.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("after the stalls");
    }), 60_000);
});
