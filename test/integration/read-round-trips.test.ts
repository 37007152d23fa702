import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOOKUP_OR_LOCK, STORE_AND_RELEASE } from "../../src/stores/redis-scripts.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

/** One command Redis executed, as MONITOR reports it: from a client connection, or from inside a script ("lua"). */
interface Seen {
  args: string[];
  fromScript: boolean;
}

/**
 * Counts what a read costs in Redis, on a private redis-server so that MONITOR sees this test's
 * commands only: the round trips of a cold miss (commands sent by the client that name the
 * entry's key or its lock) and the wake-ups published (PUBLISH run by a script).
 */
describe("read path round trips", () => {
  let server: ChaosRedis;
  let monitor: Redis;
  let admin: Redis;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = await ChaosRedis.start();
    admin = new Redis(server.url);
    monitor = new Redis(server.url);
    const feed = await monitor.monitor();
    feed.on("monitor", (_time: string, args: string[], source: string) => seen.push({ args, fromScript: source === "lua" }));
  });
  afterAll(async () => {
    monitor.disconnect();
    admin.disconnect();
    await server.stop();
  });

  /** Everything Redis executed up to now has reached `seen` (MONITOR feeds it asynchronously). */
  async function settled(): Promise<void> {
    const mark = `mark-${uniqueNamespace()}`;
    await admin.echo(mark);
    await until(() => seen.some((s) => s.args[0]?.toLowerCase() === "echo" && s.args[1] === mark));
  }

  /** Commands a client sent that name a key of `namespace`'s User reads (entry, lock or waited mark). */
  const clientCommands = (namespace: string) => seen.filter((s) => !s.fromScript && s.args.some((a) => a.startsWith(`${namespace}:`) && a.includes(":User:findUnique:")));
  const evalsOf = (namespace: string, sha: string) => clientCommands(namespace).filter((s) => s.args[0]?.toLowerCase() === "evalsha" && s.args[1] === sha).length;
  const wakeUps = (namespace: string) => seen.filter((s) => s.args[0]?.toLowerCase() === "publish" && s.args[2]?.includes(`${namespace}:`) && s.args[2].includes(":User:findUnique:")).length;

  function client(namespace: string) {
    return createCachedClient({ namespace, redis: new Redis(server.url, { maxRetriesPerRequest: 1 }), models: { User: true } });
  }

  /** Two clients on one namespace, closed (and their connections dropped) after `run`. */
  async function withTwoClients(run: (a: ReturnType<typeof client>, b: ReturnType<typeof client>, namespace: string) => Promise<void>): Promise<void> {
    const namespace = uniqueNamespace();
    const [a, b] = [client(namespace), client(namespace)];
    try {
      await run(a, b, namespace);
    } finally {
      await Promise.all([a.close(), b.close()]);
      a.redis?.disconnect();
      b.redis?.disconnect();
    }
  }

  /** The clients set up (their runtime is built at the first query) and subscribed. */
  async function ready(namespace: string, ...clients: Array<ReturnType<typeof client>>): Promise<void> {
    await Promise.all(clients.map((c) => c.prisma.user.count()));
    await until(async () => (await admin.pubsub("NUMSUB", `{${namespace}}:events`))[1] === clients.length);
    await settled();
    seen.length = 0;
    for (const c of clients) c.prisma.$cache.resetStats();
  }

  it("a cold miss costs 2 round trips (lookup-or-lock, store-and-release) and publishes no wake-up when nobody waits", async () => {
    const namespace = uniqueNamespace();
    const c = client(namespace);
    try {
      const [warm, cold] = [await seedUser(c.base), await seedUser(c.base)];
      // Loads the scripts into this fresh server (the first EVALSHA of each is answered NOSCRIPT).
      await c.prisma.user.findUnique({ where: { id: warm.id } });
      await until(() => seen.some((s) => s.args[0]?.toLowerCase() === "evalsha" && s.args[1] === STORE_AND_RELEASE.sha));
      await settled();
      seen.length = 0;
      const read = await c.prisma.user.findUnique({ where: { id: cold.id } });
      expect(read?.email).toBe(cold.email);
      await until(() => evalsOf(namespace, STORE_AND_RELEASE.sha) === 1);
      await settled();
      const sent = clientCommands(namespace).map((s) => `${s.args[0]} ${s.args[1]?.slice(0, 8)}`);
      console.log(`cold miss: ${sent.length} commands: ${sent.join(", ")}`);
      expect(sent).toHaveLength(2);
      expect(evalsOf(namespace, LOOKUP_OR_LOCK.sha)).toBe(1);
      expect(wakeUps(namespace)).toBe(0);
      expect(c.prisma.$cache.stats()).toMatchObject({ dbLoads: 2, lockAcquisitions: 2, lockWaits: 0, localLockWaits: 0 });
    } finally {
      await c.close();
      c.redis?.disconnect();
    }
  }, 30_000);

  it("a key that hit before is read with one MGET (no script); once it stops hitting, the next lookup is the full one", async () => {
    const namespace = uniqueNamespace();
    const writer = client(namespace);
    const reader = createCachedClient({ namespace, redis: new Redis(server.url, { maxRetriesPerRequest: 1 }), models: { User: true }, l1: false });
    try {
      const user = await seedUser(writer.base);
      await ready(namespace, writer, reader);
      const read = () => reader.prisma.user.findUnique({ where: { id: user.id } });
      const commands = () => clientCommands(namespace).map((s) => s.args[0]!.toLowerCase());
      await read(); // a cold miss: lookup-or-lock, load, store
      await until(() => evalsOf(namespace, STORE_AND_RELEASE.sha) === 1);
      await read(); // a hit through the full lookup: from now on the key is expected to hit
      await settled();
      seen.length = 0;
      for (let i = 0; i < 3; i++) expect((await read())?.email).toBe(user.email);
      await settled();
      expect(commands()).toEqual(["mget", "mget", "mget"]);
      expect(reader.prisma.$cache.stats()).toMatchObject({ l2Hits: 4, dbLoads: 1 });
      await writer.prisma.user.update({ where: { id: user.id }, data: { name: "renamed" } });
      await settled();
      seen.length = 0;
      // Outdated: the plain read finds the versions moved, and the full lookup takes the lock at once.
      expect((await read())?.name).toBe("renamed");
      await until(() => evalsOf(namespace, STORE_AND_RELEASE.sha) === 1);
      expect((await read())?.name).toBe("renamed");
      await settled();
      expect(commands()).toEqual(["mget", "evalsha", "evalsha", "evalsha"]);
      expect(evalsOf(namespace, LOOKUP_OR_LOCK.sha)).toBe(2);
    } finally {
      for (const c of [writer, reader]) {
        await c.close();
        c.redis?.disconnect();
      }
    }
  }, 30_000);

  it("a hot key's hits are plain MGETs too, spread over its replicas", async () => {
    const namespace = uniqueNamespace();
    const reader = createCachedClient({ namespace, redis: new Redis(server.url, { maxRetriesPerRequest: 1 }), models: { User: true }, l1: false, hotKeys: { threshold: 5, window: 60, replicas: 3 } });
    try {
      const user = await seedUser(reader.base);
      await ready(namespace, reader);
      // Past the threshold the key is hot: its replicas are seeded, then each is looked up once in full.
      for (let i = 0; i < 40; i++) await reader.prisma.user.findUnique({ where: { id: user.id } });
      await settled();
      seen.length = 0;
      for (let i = 0; i < 30; i++) expect((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.email).toBe(user.email);
      await settled();
      const entryCommands = seen.filter((s) => !s.fromScript && s.args.some((a) => a.includes(`${namespace}:`) && a.includes(":User:findUnique:")));
      expect(entryCommands.map((s) => s.args[0]!.toLowerCase())).toEqual(Array(30).fill("mget"));
      // Replica keys start with their own hash tag; the primary key with the namespace.
      expect(new Set(entryCommands.map((s) => s.args[1]!.slice(0, 4))).size).toBeGreaterThan(1);
      expect(reader.prisma.$cache.stats()).toMatchObject({ dbLoads: 1 });
      expect(reader.prisma.$cache.stats().replicaReads).toBeGreaterThan(0);
      // Replica reads count those a replica answered, not those drawn (outside probe 214: after writes,
      // each read that then went to the database counted one too, more than the L2 hits).
      const before = reader.prisma.$cache.stats();
      for (let i = 0; i < 20; i++) {
        await reader.prisma.user.update({ where: { id: user.id }, data: { name: `w${i}` } });
        await reader.prisma.user.findUnique({ where: { id: user.id } });
      }
      const after = reader.prisma.$cache.stats();
      expect(after.replicaReads - before.replicaReads).toBeLessThanOrEqual(after.l2Hits - before.l2Hits);
    } finally {
      await reader.close();
      reader.redis?.disconnect();
    }
  }, 30_000);

  it("a waiter of another instance marks that it waits: the holder publishes exactly one wake-up, and the waiter reads the landed value", async () => {
    await withTwoClients(async (holder, waiter, namespace) => {
      const user = await seedUser(holder.base);
      await ready(namespace, holder, waiter);
      holder.pool.delayMs = 400;
      // Prisma queries are lazy: then() starts it.
      const held = holder.prisma.user.findUnique({ where: { id: user.id } }).then((u) => u);
      await until(async () => (await admin.keys(`${namespace}:*:lock`)).length > 0);
      const read = await waiter.prisma.user.findUnique({ where: { id: user.id } });
      expect(read?.email).toBe(user.email);
      expect((await held)?.email).toBe(user.email);
      await settled();
      expect(waiter.prisma.$cache.stats()).toMatchObject({ dbLoads: 0, l2Hits: 1, lockWaits: 1, lockWaitTimeouts: 0 });
      expect(wakeUps(namespace)).toBe(1);
      // The mark is gone with the wake-up: the next holder publishes only for its own waiters.
      expect(await admin.keys(`${namespace}:*:waited:lock`)).toEqual([]);
    });
  }, 30_000);

  it("a reader whose key is being loaded by its own process waits in process: no lock attempt, no wake-up through Redis", async () => {
    await withTwoClients(async (c, writer, namespace) => {
      const user = await seedUser(c.base);
      await ready(namespace, c, writer);
      c.pool.delayMs = 400;
      const queries = c.pool.queries;
      const first = c.prisma.user.findUnique({ where: { id: user.id } }).then((u) => u);
      await until(() => c.pool.queries > queries);
      // An unrelated write moves this process's epoch: the second read cannot join the first's
      // load (it might predate a write the second read must see), so it looks for itself.
      await writer.prisma.tag.create({ data: { name: `epoch-${namespace}` } });
      const second = await c.prisma.user.findUnique({ where: { id: user.id } });
      expect(second?.email).toBe(user.email);
      expect((await first)?.email).toBe(user.email);
      await settled();
      expect(c.prisma.$cache.stats()).toMatchObject({ dbLoads: 1, l2Hits: 1, lockWaits: 0, localLockWaits: 1, lockWaitTimeouts: 0 });
      // The second read sent one lookup, after the first read's value landed; nobody was woken through Redis.
      expect(evalsOf(namespace, LOOKUP_OR_LOCK.sha)).toBe(2);
      expect(clientCommands(namespace).filter((s) => s.args[0]?.toLowerCase() === "set")).toEqual([]);
      expect(wakeUps(namespace)).toBe(0);
    });
  }, 30_000);

  it("a reader waiting in process for a load that fails loads by itself at once", async () => {
    await withTwoClients(async (c, writer, namespace) => {
      const user = await seedUser(c.base);
      await ready(namespace, c, writer);
      c.pool.delayMs = 400;
      c.pool.failWith = new Error("database down for the first read");
      const queries = c.pool.queries;
      const first = c.prisma.user.findUnique({ where: { id: user.id } }).then((u) => u);
      first.catch(() => {});
      await until(() => c.pool.queries > queries);
      c.pool.failWith = undefined;
      await writer.prisma.tag.create({ data: { name: `epoch-${namespace}` } });
      const second = await c.prisma.user.findUnique({ where: { id: user.id } });
      await expect(first).rejects.toThrow("database down");
      expect(second?.email).toBe(user.email);
      expect(c.prisma.$cache.stats()).toMatchObject({ dbLoads: 1, lockWaits: 0, localLockWaits: 1, lockWaitTimeouts: 0 });
    });
  }, 30_000);
});
