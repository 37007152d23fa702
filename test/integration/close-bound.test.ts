import { Redis } from "ioredis";
import pg from "pg";
import { describe, expect, inject, it, vi } from "vitest";
import { quitWithin } from "../../src/stores/command-connection.ts";
import { startChild } from "../helpers/child-process.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { until } from "../helpers/wait.ts";
import { databaseUrl } from "../helpers/databases.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * close() is bounded: it waits at most `closeTimeout` for background refreshes, then abandons
 * those still running (they finish in the background and their results are not stored).
 */
describe("close()", () => {
  it("resolves within closeTimeout while a background refresh is stuck on a table lock, and the refresh's result is not stored", async () => {
    const namespace = uniqueNamespace();
    const client = createCachedClient({ namespace, models: { User: { ttl: 1, swr: 60, jitter: 0 } }, closeTimeout: 300, earlyRefreshBeta: 0 });
    const errors: string[] = [];
    client.prisma.$cache.events.on("error", (event: { error: { code: string } }) => errors.push(event.error.code));
    const locker = new pg.Client({ connectionString: databaseUrl() });
    await locker.connect();
    let locked = false;
    let closed = false;
    try {
      const user = await client.base.user.create({ data: { email: `close-${Date.now()}-${Math.random()}@example.com`, name: "before" } });
      await client.prisma.user.findUnique({ where: { id: user.id } });
      // The store lands after the read resolved, through the cache's own connection.
      const entryKeysOf = async () => (await client.redis!.keys(`${namespace}:*`)).filter((key) => key.includes(":User:findUnique:"));
      await until(async () => (await entryKeysOf()).length === 1 && (await client.redis!.get((await entryKeysOf())[0]!)) !== null, 5_000);
      const entryKeys = await entryKeysOf();
      const stored = await client.redis!.get(entryKeys[0]!);
      await sleep(1_100); // past ttl: the next read is served stale and refreshes in the background
      await client.base.user.update({ where: { id: user.id }, data: { name: "changed outside the cache" } });
      await locker.query("BEGIN");
      await locker.query('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE');
      locked = true;
      expect((await client.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe("before");
      expect(client.prisma.$cache.stats().backgroundRefreshes).toBe(1);
      await sleep(100); // the refresh is now waiting for the table lock

      const started = performance.now();
      const closing = client.prisma.$cache.close().then(() => (closed = true));
      // The table stays locked for 20 s: close() must not wait for it.
      await Promise.race([closing, sleep(20_000)]);
      const tookMs = performance.now() - started;
      expect(closed, "close() waited for the stuck refresh").toBe(true);
      expect(tookMs).toBeLessThan(5_000);
      expect(errors).toContain("E_CLOSE_TIMEOUT");

      // The abandoned refresh finishes once the lock is gone, and stores nothing.
      await locker.query("ROLLBACK");
      locked = false;
      for (let i = 0; i < 200 && client.pool.completed < client.pool.queries; i++) await sleep(10);
      await sleep(100);
      expect(await client.redis!.get(entryKeys[0]!)).toBe(stored);
    } finally {
      if (locked) await locker.query("ROLLBACK");
      await locker.end();
      if (!closed) await client.prisma.$cache.close();
      await client.base.$disconnect();
      client.redis?.disconnect();
    }
  }, 60_000);

  it("abandons a read stuck on a table lock after closeTimeout, saying so; the read still resolves, and nothing it does after is reported", async () => {
    const namespace = uniqueNamespace();
    const client = createCachedClient({ namespace, models: { User: true }, closeTimeout: 300 });
    const errors: string[] = [];
    client.prisma.$cache.events.on("error", (event: { error: { code: string; message: string } }) => errors.push(`${event.error.code}: ${event.error.message}`));
    const locker = new pg.Client({ connectionString: databaseUrl() });
    await locker.connect();
    let locked = false;
    try {
      const user = await client.base.user.create({ data: { email: `close-stuck-${Date.now()}-${Math.random()}@example.com`, name: "stuck" } });
      await client.prisma.user.findMany({ take: 1 });
      await client.prisma.$cache.drain();
      await locker.query("BEGIN");
      await locker.query('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE');
      locked = true;
      const read = client.prisma.user.findUnique({ where: { id: user.id } }).then((found) => found?.name);
      await sleep(200); // the read holds the fleet lock and waits for the table lock
      await client.prisma.$cache.close();
      expect(errors).toEqual([expect.stringMatching(/^E_CLOSE_TIMEOUT: .*0 background refresh\(es\) and [12] read\(s\) or store\(s\)/)]);
      await locker.query("ROLLBACK");
      locked = false;
      await expect(read).resolves.toBe("stuck");
      await sleep(200);
      expect(errors).toHaveLength(1);
      expect(client.prisma.$cache.stats()).toMatchObject({ redisErrors: 0, redisTimeouts: 0 });
    } finally {
      if (locked) await locker.query("ROLLBACK");
      await locker.end();
      await client.prisma.$cache.close().catch(() => undefined);
      await client.base.$disconnect();
      client.redis?.disconnect();
    }
  });

  // An outside probe (114): each close() with reads in flight reported a Redis failure to onError
  // (E_STORE: "connection is ended", then "circuit open"): the reads' stores were cut off when
  // the connections closed. A graceful shutdown must not look like a Redis outage.
  it("lets reads in flight finish and store their entries before the connections close, reporting no Redis failure", async () => {
    const namespace = uniqueNamespace();
    const client = createCachedClient({ namespace, models: { User: true } });
    const errors: string[] = [];
    client.prisma.$cache.events.on("error", (event: { error: { code: string; message: string } }) => errors.push(`${event.error.code}: ${event.error.message}`));
    try {
      const users = [];
      for (let i = 0; i < 10; i++) users.push(await client.base.user.create({ data: { email: `close-inflight-${i}-${Date.now()}-${Math.random()}@example.com`, name: `reader ${i}` } }));
      await client.prisma.user.findMany({ take: 1 }); // the cache is connected and registered
      // Started (a Prisma query runs when it is awaited), then close() at once.
      const reads = Promise.all(users.map((user) => client.prisma.user.findUnique({ where: { id: user.id } })));
      await client.prisma.$cache.close();
      expect((await reads).map((user) => user?.name)).toEqual(users.map((user) => user.name));
      expect(errors).toEqual([]);
      expect(client.prisma.$cache.stats()).toMatchObject({ redisErrors: 0, redisTimeouts: 0 });
      const entries = (await client.redis!.keys(`${namespace}:*`)).filter((key) => key.includes(":User:findUnique:"));
      expect(entries).toHaveLength(10);
    } finally {
      await client.prisma.$cache.close();
      await client.base.$disconnect();
      client.redis?.disconnect();
    }
  });
});

/**
 * A client with a connection name of its own (the cache's duplicates keep it), and a count of the
 * connections by that name that are not subscribers: the client's own and the cache's command connections.
 */
function namedClient(prefix: string) {
  const name = `${prefix}-${uniqueNamespace()}`;
  const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1, connectionName: name });
  const admin = createRedis();
  const commandConnections = async () => {
    const lines = ((await admin.client("LIST")) as string).split("\n");
    return lines.filter((line) => line.includes(` name=${name} `) && / sub=0 /.test(line) && / psub=0 /.test(line)).length;
  };
  return { redis, commandConnections, dispose: () => (redis.disconnect(), admin.disconnect()) };
}

describe("closing a client on a shared Redis connection", () => {
  it("leaves no listener behind on the user's connection (each $extends would otherwise keep its runtime alive)", async () => {
    const redis = createRedis();
    const counts = () => (["ready", "close", "end", "reconnecting"] as const).map((event) => redis.listenerCount(event));
    try {
      await redis.ping();
      const before = counts();
      for (let i = 0; i < 12; i++) {
        const c = createCachedClient({ redis });
        await c.prisma.user.count(); // builds the runtime, which watches the connection
        await c.close();
      }
      expect(counts()).toEqual(before);
    } finally {
      redis.disconnect();
    }
  });

  it("the caches given one client share one command connection of their own; the last to close closes it, and the client stays open", async () => {
    const { redis, commandConnections, dispose } = namedClient("shared");
    const clients = [createCachedClient({ redis }), createCachedClient({ redis }), createCachedClient({ redis })];
    try {
      await redis.ping();
      await Promise.all(clients.map((c) => c.prisma.user.count()));
      await until(async () => (await commandConnections()) === 2);
      await clients[0]!.close();
      await clients[1]!.close();
      expect(await commandConnections(), "one cache still uses it").toBe(2);
      await clients[2]!.close();
      await until(async () => (await commandConnections()) === 1);
      expect(await redis.ping()).toBe("PONG");
    } finally {
      dispose();
    }
  });

  it("caches with different redisTimeouts given one client get a command connection each: its socket timeout follows redisTimeout (found by an outside probe)", async () => {
    const { redis, commandConnections, dispose } = namedClient("timeouts");
    const clients = [createCachedClient({ redis, redisTimeout: 250 }), createCachedClient({ redis, redisTimeout: 2_000 }), createCachedClient({ redis, redisTimeout: 250 })];
    try {
      await redis.ping();
      await Promise.all(clients.map((c) => c.prisma.user.count()));
      await until(async () => (await commandConnections()) === 3);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      dispose();
    }
  });

  it("closing a connection that has ended already arms no timer (ioredis's disconnect() waits 2 s for a socket close that came before it: processes stayed alive 2 s after everything was closed)", async () => {
    const connection = createRedis();
    await connection.ping();
    await connection.quit();
    await until(() => connection.status === "end" && (connection as unknown as { stream: { destroyed: boolean } }).stream.destroyed);
    const timers = vi.spyOn(globalThis, "setTimeout");
    try {
      await quitWithin(connection, 50);
      const armed = timers.mock.calls.filter(([, ms]) => ms === 2_000);
      expect(armed, "ioredis's disconnect timer").toHaveLength(0);
    } finally {
      timers.mockRestore();
    }
  });

  it("closing a connection whose server is gone (ioredis reconnecting) arms no timer either, and it stays closed (outside probe 127)", async () => {
    const server = await ChaosRedis.start();
    const connection = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    connection.on("error", () => {});
    let back: ChaosRedis | undefined;
    try {
      await connection.ping();
      await server.stop();
      await until(() => connection.status === "reconnecting");
      const timers = vi.spyOn(globalThis, "setTimeout");
      try {
        await quitWithin(connection, 50);
        expect(timers.mock.calls.filter(([, ms]) => ms === 2_000), "ioredis's disconnect timer").toHaveLength(0);
      } finally {
        timers.mockRestore();
      }
      // The server back on its port: the closed connection does not reconnect to it.
      back = await ChaosRedis.start(server.port);
      await sleep(500);
      expect(["ready", "connect", "connecting"]).not.toContain(connection.status);
    } finally {
      connection.disconnect();
      await back?.stop();
    }
  });

  for (const [when, use] of [["before its first query", "0"], ["after reads and a write", "1"]] as const) {
    it(`an app that closes the cache ${when}, disconnects Prisma and quits its client leaves nothing holding its process (found by an outside probe: a socket timer held it 5 s)`, async () => {
      const child = startChild<{ alive: string[] }>("closing-app.ts", { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: uniqueNamespace(), USE: use });
      expect((await child.result).alive).toEqual([]);
    });
  }
});
