import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { parseBumpReply } from "../../src/invalidation/bump-sender.ts";
import { BUMP_VERSIONS } from "../../src/stores/redis-scripts.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";
import { routeCacheConnections } from "../helpers/connection-routes.ts";

/**
 * The bump script says how many *other* instances will acknowledge: the writer applies its own
 * bump from the reply and does not acknowledge it to itself. It must take the writer out of the
 * count exactly when the count included it — never when PUBLISH did not reach the writer's own
 * subscriber (dropped by Redis, not noticed yet), or a write could resolve one acknowledgement
 * early while another instance's registration is not counted (its clock behind the writer's).
 */
describe("BUMP_VERSIONS: how many acknowledgements a writer waits for", () => {
  const redis = createRedis();
  const subscribers: Array<ReturnType<typeof createRedis>> = [];
  afterAll(() => {
    redis.disconnect();
    for (const subscriber of subscribers) subscriber.disconnect();
  });

  function setup() {
    const ns = `{${uniqueNamespace()}}`;
    return { ns, events: `${ns}:events`, ackOf: (id: string) => `${ns}:ack:${id}`, registry: `${ns}:instances` };
  }

  /** An instance's subscriber connection: the events channel and its own ack channel, in one SUBSCRIBE (as Bus does). */
  async function subscribe(events: string, ackChannel: string): Promise<void> {
    const subscriber = createRedis();
    subscribers.push(subscriber);
    await subscriber.subscribe(events, ackChannel);
  }

  async function receivers(ns: string, events: string, registry: string, ownAckChannel: string, ownMember: string): Promise<number> {
    // Then the pending writes, the live schemas and the schema epoch (no pending op, no schema checked).
    const keys = [`${ns}:seq`, registry, `${ns}:lifetime`, `${ns}:v:m:User`, `${ns}:pending`, `${ns}:schemas`, `${ns}:v:e:-`];
    const args = [events, `1|i|writer|${uniqueNamespace()}|`, `|["m:User"]`, 60_000, 1, 0, "1", "", "", 60_000, ownAckChannel, ownMember, "0", "", "", "e:-", "", "-|"];
    const [, count] = (await redis.eval(BUMP_VERSIONS.source, keys.length, ...keys, ...args)) as [number, number];
    return count;
  }

  it("a lone instance, subscribed and registered, waits for nobody", async () => {
    const { ns, events, ackOf, registry } = setup();
    await subscribe(events, ackOf("a"));
    await redis.zadd(registry, Date.now() + 60_000, "a");
    expect(await receivers(ns, events, registry, ackOf("a"), "a")).toBe(0);
  });

  it("another subscribed, registered instance is waited for", async () => {
    const { ns, events, ackOf, registry } = setup();
    await subscribe(events, ackOf("a"));
    await subscribe(events, ackOf("b"));
    await redis.zadd(registry, Date.now() + 60_000, "a", Date.now() + 60_000, "b");
    expect(await receivers(ns, events, registry, ackOf("a"), "a")).toBe(1);
  });

  it("the writer's subscriber gone (Redis dropped it) and the other's registration not counted: the other is still waited for", async () => {
    const { ns, events, ackOf, registry } = setup();
    // Only b listens; its registration reads as expired on the writer's clock. The writer is registered.
    await subscribe(events, ackOf("b"));
    await redis.zadd(registry, Date.now() + 60_000, "a", Date.now() - 1, "b");
    expect(await receivers(ns, events, registry, ackOf("a"), "a")).toBe(1);
  });

  it("a registered instance PUBLISH does not reach (its subscriber dropped) is waited for; the writer's lapsed registration is not subtracted", async () => {
    const { ns, events, ackOf, registry } = setup();
    await subscribe(events, ackOf("a"));
    await redis.zadd(registry, Date.now() - 1, "a", Date.now() + 60_000, "b", Date.now() + 60_000, "c");
    expect(await receivers(ns, events, registry, ackOf("a"), "a")).toBe(2);
  });

  it("a subscriber that left is no longer counted", async () => {
    const { ns, events, ackOf, registry } = setup();
    await subscribe(events, ackOf("a"));
    const other = createRedis();
    await other.subscribe(events, ackOf("b"));
    expect(await receivers(ns, events, registry, ackOf("a"), "a")).toBe(1);
    other.disconnect();
    await until(async () => ((await redis.pubsub("NUMSUB", ackOf("b"))) as [string, number])[1] === 0);
    expect(await receivers(ns, events, registry, ackOf("a"), "a")).toBe(0);
  });

  it("a sweep beaten to its record answers 'gone' in the reply's five numbers (outside probe 182: four, read as a Redis failure)", async () => {
    const { ns, events, ackOf, registry } = setup();
    const keys = [`${ns}:seq`, registry, `${ns}:lifetime`, `${ns}:v:m:User`, `${ns}:pending`, `${ns}:schemas`, `${ns}:v:e:-`];
    // A sweep (pending op "sweep") of a token whose record another instance removed first.
    const args = [events, `1|i|writer|${uniqueNamespace()}|`, `|["m:User"]`, 60_000, 1, 0, "1", "set", "swept-token", 60_000, ackOf("a"), "a", "0", "sweep", "", "e:-", "", "-|"];
    expect(args[args.length - 5], "the pending op's place").toBe("sweep");
    const reply = await redis.eval(BUMP_VERSIONS.source, keys.length, ...keys, ...args);
    expect(parseBumpReply(reply)).toMatchObject({ seq: -1 });
  });
});

describe("a write right after start-up", () => {
  it("waits for its own subscription before its bump, so the acknowledgements reach it", async () => {
    const namespace = uniqueNamespace();
    const reader = createCachedClient({ namespace, models: { User: true } });
    // The writer's subscriber sits behind a slow link: it subscribes ~300 ms after start (INFO first).
    const proxy = await delayingProxy(inject("redisUrl"), 150);
    const redis = createRedis();
    routeCacheConnections(redis, { subscriber: { host: "127.0.0.1", port: proxy.port } });
    try {
      const user = await seedUser(reader.base);
      await reader.prisma.user.findUnique({ where: { id: user.id } });
      const writer = createCachedClient({ namespace, models: { User: true }, redis, ackTimeout: 3_000 });
      try {
        await writer.prisma.user.update({ where: { id: user.id }, data: { name: "written at start-up" } });
        expect(writer.prisma.$cache.stats().invalidationAckTimeouts, "acknowledgements published before the writer subscribed are lost").toBe(0);
        expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("written at start-up");
      } finally {
        await writer.prisma.$cache.close();
        await writer.base.$disconnect();
      }
    } finally {
      redis.disconnect();
      proxy.close();
      await reader.close();
    }
  });
});
