import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";
import { sleep, until } from "../helpers/wait.ts";

type Cached = ReturnType<typeof createCachedClient>;
type User = Awaited<ReturnType<Cached["base"]["user"]["create"]>>;

/**
 * A Redis server that comes back without the last writes' bumps and marks — a replica promoted
 * before it caught up, a restart from an older snapshot — still holds the entries cached before
 * those writes, with versions it calls current. Every instance must fence the namespace on it
 * before serving anything: the one that talked to the old server, and one that never did.
 */
describe("a Redis server that lost the last writes", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
  });

  function client(url: string, namespace: string, l1 = true): Cached {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => {});
    const c = createCachedClient({ namespace, redis, models: { User: { ttl: 300 } }, l1: l1 ? undefined : false, onError: () => {} });
    cleanups.push(async () => {
      await c.close();
      redis.disconnect();
    });
    return c;
  }
  async function server(start: () => Promise<ChaosRedis>): Promise<ChaosRedis> {
    const started = await start();
    cleanups.push(() => started.stop());
    return started;
  }
  /** Reads the user by id and in a list until both are served from the cache. */
  /** A primary, its replica, and a proxy the clients reach the primary through (switched to the replica on failover). */
  async function primaryAndReplicaBehindProxy(): Promise<{ primary: ChaosRedis; replica: ChaosRedis; proxy: TcpProxy }> {
    const primary = await server(() => ChaosRedis.start());
    const replica = await server(() => ChaosRedis.startReplicaOf(primary));
    const proxy = await TcpProxy.start(primary.port);
    cleanups.push(() => proxy.stop());
    return { primary, replica, proxy };
  }

  async function cache(c: Cached, id: number): Promise<void> {
    await until(async () => {
      const hits = c.prisma.$cache.stats().hits;
      await c.prisma.user.findUnique({ where: { id } });
      await c.prisma.user.findMany({ where: { id }, orderBy: { id: "asc" } });
      return c.prisma.$cache.stats().hits >= hits + 2;
    }, 10_000);
  }
  /** A server of its own, a connection to run SWAPDB on, and a reader (with L1 or not) and a writer (without) on one namespace. */
  async function swappingFleet(readerL1: boolean) {
    const chaos = await server(() => ChaosRedis.start());
    const admin = new Redis(chaos.url);
    cleanups.push(async () => admin.disconnect());
    const namespace = uniqueNamespace();
    return { chaos, admin, namespace, reader: client(chaos.url, namespace, readerL1), writer: client(chaos.url, namespace, false) };
  }

  /**
   * Two users: `other` written five times by each of `writer` and `reader` (both have bumped before
   * a copy is set aside, so their counts in it are above what a fence starts from), `user` cached by `reader`.
   */
  async function bothHaveWritten(writer: Cached, reader: Cached, label: string) {
    const [user, other] = (await Promise.all(["user", "other"].map((name) => writer.base.user.create({ data: { email: `${label}-${name}@example.com`, name: "old" } })))) as [User, User];
    for (let i = 0; i < 5; i++) {
      await writer.prisma.user.update({ where: { id: other.id }, data: { name: `w${i}` } });
      await reader.prisma.user.update({ where: { id: other.id }, data: { name: `r${i}` } });
    }
    await cache(reader, user.id);
    return { user, other };
  }
  async function names(c: Cached, id: number): Promise<Array<string | null | undefined>> {
    const one = await c.prisma.user.findUnique({ where: { id } });
    const list = await c.prisma.user.findMany({ where: { id }, orderBy: { id: "asc" } });
    return [one?.name, list[0]?.name];
  }

  it("a promoted replica that refuses writes for a while (min-replicas-to-write, no replica of its own): fenced once it takes them, and counted as one server change", async () => {
    const { primary, replica, proxy } = await primaryAndReplicaBehindProxy();
    const namespace = uniqueNamespace();
    const c = client(proxy.url, namespace);
    const user = await c.base.user.create({ data: { email: `failover-refusing-${namespace}@example.com`, name: "old" } });
    await c.prisma.user.update({ where: { id: user.id }, data: { name: "before" } });
    await cache(c, user.id);
    await replica.replicatedFrom(primary);
    const admin = new Redis(replica.url);
    cleanups.push(async () => admin.disconnect());
    await admin.config("SET", "min-replicas-to-write", "1");
    await replica.promote();
    proxy.switchTo(replica.port);
    // The fence is refused (NOREPLICAS) and retried meanwhile; reads go to the database.
    await sleep(1_500);
    expect(await names(c, user.id)).toEqual(["before", "before"]);
    // Without waiting for a verification that keeps failing (outside probe 150: every read waited its redisTimeout).
    const timeoutsBefore = c.prisma.$cache.stats().redisTimeouts;
    for (let i = 0; i < 10; i++) expect(await names(c, user.id)).toEqual(["before", "before"]);
    expect(c.prisma.$cache.stats().redisTimeouts - timeoutsBefore).toBe(0);
    await admin.config("SET", "min-replicas-to-write", "0");
    await cache(c, user.id);
    expect(c.prisma.$cache.stats().redisServerChanges).toBe(1);
  });

  it("a process that starts after the failover, never having known the old primary, does not trust the replica's entries", async () => {
    const primary = await server(() => ChaosRedis.start());
    const replica = await server(() => ChaosRedis.startReplicaOf(primary));
    const namespace = uniqueNamespace();
    const old = client(primary.url, namespace, false);
    const user = await old.base.user.create({ data: { email: `failover-newcomer-${namespace}@example.com`, name: "old" } });
    await cache(old, user.id);
    await replica.replicatedFrom(primary);
    await replica.promote();
    await old.prisma.user.update({ where: { id: user.id }, data: { name: "new" } });
    await primary.stop();

    const newcomer = client(replica.url, namespace, false);
    expect(await names(newcomer, user.id)).toEqual(["new", "new"]);
    // The fleet had fenced the old primary: this server is another one.
    expect(newcomer.prisma.$cache.stats().redisServerChanges).toBe(1);
    // Cached again on the new server.
    await cache(newcomer, user.id);
    expect(await names(newcomer, user.id)).toEqual(["new", "new"]);
  });

  it("Redis restarted from an older snapshot: the instance that knew it before, and a new one, read the last write", async () => {
    const chaos = await server(() => ChaosRedis.start());
    const namespace = uniqueNamespace();
    const reader = client(chaos.url, namespace);
    const writer = client(chaos.url, namespace, false);
    const user = await writer.base.user.create({ data: { email: `failover-snapshot-${namespace}@example.com`, name: "old" } });
    await cache(reader, user.id);
    await cache(writer, user.id);
    await chaos.save();
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "new" } });
    expect(await names(reader, user.id)).toEqual(["new", "new"]);
    await chaos.restartFromSnapshot();

    // Reads across the restart: each must return the last write, whatever the connection's state.
    const seen = new Set<string | null | undefined>();
    const deadline = Date.now() + 2_000;
    while (Date.now() < deadline) {
      for (const name of await names(reader, user.id)) seen.add(name);
      await sleep(2);
    }
    expect([...seen]).toEqual(["new"]);
    expect(reader.prisma.$cache.stats().redisServerChanges).toBe(1);
    const newcomer = client(chaos.url, namespace);
    expect(await names(newcomer, user.id)).toEqual(["new", "new"]);
    await cache(reader, user.id);
  });

  it("keys rolled back under the same run_id (SWAPDB to an older copy): an instance that saw later versions fences the namespace within a second", async () => {
    const { chaos, admin, namespace, reader, writer } = await swappingFleet(true);
    const user = await writer.base.user.create({ data: { email: `rollback-${namespace}@example.com`, name: "old" } });
    await cache(reader, user.id);
    await cache(writer, user.id);
    // The operator sets a copy of the keys aside (database 1), the fleet writes on, then swaps the copy back.
    await admin.swapdb(0, 1);
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "new" } });
    expect(await names(reader, user.id)).toEqual(["new", "new"]);
    await cache(reader, user.id);
    await admin.swapdb(0, 1);
    // One of them notices first and fences the namespace for the fleet (its bump tells the others).
    await until(() => writer.prisma.$cache.stats().redisServerChanges + reader.prisma.$cache.stats().redisServerChanges > 0, 5_000);
    expect(await names(reader, user.id)).toEqual(["new", "new"]);
    expect(await names(writer, user.id)).toEqual(["new", "new"]);
    // A process that started after the rollback reads the fenced namespace.
    const newcomer = client(chaos.url, namespace, false);
    expect(await names(newcomer, user.id)).toEqual(["new", "new"]);
  });

  // An outside probe: the first write after the rollback raised the sequence above every version
  // seen (its floor is the server's clock), so the once-a-second check passed and nothing was fenced:
  // the restored entries matched the restored versions, and were served until they expired.
  it("keys rolled back under the same run_id, then a write to another record before the next check: the rollback is still seen", async () => {
    const { admin, namespace, reader, writer } = await swappingFleet(false);
    const user = await writer.base.user.create({ data: { email: `rollback-write-${namespace}@example.com`, name: "old" } });
    const other = await writer.base.user.create({ data: { email: `rollback-other-${namespace}@example.com`, name: "other" } });
    await cache(reader, user.id);
    await cache(writer, user.id);
    await admin.swapdb(0, 1);
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "new" } });
    await cache(reader, user.id);
    await admin.swapdb(0, 1);
    await writer.prisma.user.update({ where: { id: other.id }, data: { name: "moves the sequence" } });
    await sleep(1_500);
    expect(await names(reader, user.id)).toEqual(["new", "new"]);
    expect(await names(writer, user.id)).toEqual(["new", "new"]);
  });

  // Outside probe 199: the fence of the empty database reset each instance's bump count, so the
  // copy swapped back (counted before it was set aside: more bumps) read as ahead, and a write right
  // after the swap raised the sequence above every version seen: nothing was fenced, and rows written
  // while the copy was away were served as before those writes until their entries expired.
  it("keys swapped away, fenced, then swapped back, by instances that had written before: the rollback is seen, a write right after it or not", async () => {
    const { admin, namespace, reader, writer } = await swappingFleet(false);
    const { user, other } = await bothHaveWritten(writer, reader, `swapped-${namespace}`);
    await admin.swapdb(0, 1);
    await until(() => reader.prisma.$cache.stats().redisServerChanges > 0 && writer.prisma.$cache.stats().redisServerChanges > 0, 5_000);
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "new" } });
    await cache(reader, user.id);
    const changes = reader.prisma.$cache.stats().redisServerChanges + writer.prisma.$cache.stats().redisServerChanges;
    await admin.swapdb(0, 1);
    await writer.prisma.user.update({ where: { id: other.id }, data: { name: "moves the sequence" } });
    await until(() => reader.prisma.$cache.stats().redisServerChanges + writer.prisma.$cache.stats().redisServerChanges > changes, 5_000);
    const seen = new Set<string | null | undefined>();
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline) for (const name of await names(reader, user.id)) seen.add(name);
    expect([...seen]).toEqual(["new"]);
  });

  // Outside probe 199: the server made a replica of an older copy of itself refused the periodic
  // check (READONLY: it keeps the bump count's lifetime), which was read as "no answer", and the
  // copy's entries were served for 2–2.5 s, until registrations lapsed.
  it("the server made a replica of an older copy (REPLICAOF): nothing is served from the copy, and the namespace is fenced when it takes writes again", async () => {
    const live = await server(() => ChaosRedis.start());
    const copy = await server(() => ChaosRedis.startReplicaOf(live));
    const namespace = uniqueNamespace();
    // One connection for both, as two caches of one process share it.
    const shared = new Redis(live.url, { maxRetriesPerRequest: 1 });
    shared.on("error", () => {});
    const both = (l1: boolean) => {
      const c = createCachedClient({ namespace, redis: shared, models: { User: { ttl: 300 } }, l1: l1 ? undefined : false, onError: () => {} });
      cleanups.push(() => c.close());
      return c;
    };
    cleanups.push(async () => shared.disconnect());
    const reader = both(false);
    const writer = both(true);
    // An instance that never writes, and reads nothing written after the copy was set aside (outside probe 202).
    const bystander = client(live.url, namespace, false);
    const { user, other } = await bothHaveWritten(writer, reader, `replica-${namespace}`);
    await until(async () => {
      const hits = bystander.prisma.$cache.stats().hits;
      await bystander.prisma.user.findUnique({ where: { id: other.id } });
      return bystander.prisma.$cache.stats().hits > hits;
    }, 10_000);
    // The copy is set aside with the entry as "old"; the live server takes the write.
    await copy.replicatedFrom(live);
    await copy.promote();
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "new" } });
    await cache(reader, user.id);
    const liveAdmin = new Redis(live.url);
    cleanups.push(async () => liveAdmin.disconnect());
    await liveAdmin.call("REPLICAOF", "127.0.0.1", String(copy.port));
    await until(async () => ((await liveAdmin.info("replication")).includes("master_link_status:up")), 10_000);
    const seen = new Set<string | null | undefined>();
    const deadline = Date.now() + 1_500;
    while (Date.now() < deadline) {
      seen.add((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name);
      seen.add((await bystander.prisma.user.findUnique({ where: { id: user.id } }))?.name);
      await sleep(20);
    }
    expect([...seen]).toEqual(["new"]);
    await liveAdmin.call("REPLICAOF", "NO", "ONE");
    await until(() => reader.prisma.$cache.stats().redisServerChanges > 0, 5_000);
    expect(await names(reader, user.id)).toEqual(["new", "new"]);
    await cache(reader, user.id);
  });

  // Outside probe 203: on the server made a replica, misses' lock scripts were refused READONLY and
  // opened the circuit; the periodic check was then refused as "circuit open", the breaker's PING
  // (which a replica answers) closed it again, and the copy's entries were served in between, up
  // to 2 s after the REPLICAOF.
  it("the server made a replica of an older copy while misses keep opening the circuit: nothing is served from the copy", async () => {
    const live = await server(() => ChaosRedis.start());
    const copy = await server(() => ChaosRedis.startReplicaOf(live));
    const namespace = uniqueNamespace();
    const redis = new Redis(live.url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => {});
    const reports: string[] = [];
    const reader = createCachedClient({ namespace, redis, models: { User: { ttl: 300 } }, l1: false, circuitBreaker: { threshold: 1, probeInterval: 50 }, onError: (error) => reports.push(error.message) });
    cleanups.push(async () => {
      await reader.close();
      redis.disconnect();
    });
    const writer = client(live.url, namespace, false);
    const { user } = await bothHaveWritten(writer, reader, `breaker-${namespace}`);
    await copy.replicatedFrom(live);
    await copy.promote();
    const copyAdmin = new Redis(copy.url);
    cleanups.push(async () => copyAdmin.disconnect());
    // Its first sync to the live server streams a second after the REPLICAOF, not 5 s: time for a
    // miss to be refused (its default gave the periodic check time to find the circuit closed).
    await copyAdmin.config("SET", "repl-diskless-sync-delay", "1");
    await writer.prisma.user.update({ where: { id: user.id }, data: { name: "new" } });
    await cache(reader, user.id);
    // Misses all along: each takes a lock (a writing script) once the circuit is closed.
    let running = true;
    let absent = 0;
    const missing = async () => {
      while (running) await reader.prisma.user.findUnique({ where: { id: -1 - (absent++ % 1_000_000) } });
    };
    const misses = Promise.all([missing(), missing()]);
    const seen = new Set<string | null | undefined>();
    const reads = (async () => {
      while (running) {
        seen.add((await reader.prisma.user.findUnique({ where: { id: user.id } }))?.name);
        await sleep(1);
      }
    })();
    const liveAdmin = new Redis(live.url);
    cleanups.push(async () => liveAdmin.disconnect());
    try {
      await liveAdmin.call("REPLICAOF", "127.0.0.1", String(copy.port));
      await until(async () => (await liveAdmin.info("replication")).includes("master_link_status:up"), 10_000);
      await sleep(1_500);
    } finally {
      running = false;
      await Promise.all([misses, reads]);
    }
    expect(absent).toBeGreaterThan(100);
    expect([...seen]).toEqual(["new"]);
    await liveAdmin.call("REPLICAOF", "NO", "ONE");
    await until(() => reader.prisma.$cache.stats().redisServerChanges > 0, 5_000);
    expect(await names(reader, user.id)).toEqual(["new", "new"]);
    // Said once, when the fence ran; not at every verification retry while the server was a replica.
    expect(reports.filter((message) => message.includes("refused a write as a replica"))).toHaveLength(1);
    expect(reports.filter((message) => message.includes("keys went back"))).toHaveLength(0);
  });

  // Outside probe 212: after a Sentinel failover the demoted primary's READONLY replies opened the
  // circuit, and the new connection's verification (INFO, its reads, the fence) was refused as
  // "circuit open": reads were held and each retry reported until the breaker's next probe.
  it("a connection made while the circuit is open is verified all the same: no verification refused as \"circuit open\"", async () => {
    const chaos = await server(() => ChaosRedis.start());
    const redis = new Redis(chaos.url, { maxRetriesPerRequest: 1 });
    redis.on("error", () => {});
    const reports: string[] = [];
    // The circuit, once open, stays open for the test: only the verification can reach Redis.
    const c = createCachedClient({ namespace: uniqueNamespace(), redis, models: { User: { ttl: 300 } }, circuitBreaker: { threshold: 1, probeInterval: 600_000 }, onError: (error) => reports.push(error.message) });
    cleanups.push(async () => {
      await c.close();
      redis.disconnect();
    });
    const user = await c.base.user.create({ data: { email: `circuit-${uniqueNamespace()}@example.com`, name: "a" } });
    await cache(c, user.id);
    chaos.pause();
    try {
      await c.prisma.user.findMany({ where: { id: user.id, name: "a" } });
    } finally {
      chaos.resume();
    }
    expect(c.prisma.$cache.stats().circuitOpen).toBe(true);
    const admin = new Redis(chaos.url);
    cleanups.push(async () => admin.disconnect());
    reports.length = 0;
    await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
    await sleep(1_500);
    expect(reports.filter((message) => /could not (verify|be verified)/.test(message))).toEqual([]);
  });

  it("a server that refuses INFO (ACL): the cache still serves and invalidates, unchecked, and says so once", async () => {
    const chaos = await server(() => ChaosRedis.start());
    const admin = new Redis(chaos.url);
    await admin.call("ACL", "SETUSER", "cache", "on", ">secret", "~*", "&*", "+@all", "-info");
    admin.disconnect();
    const namespace = uniqueNamespace();
    const url = `redis://cache:secret@127.0.0.1:${chaos.port}`;
    const errors: string[] = [];
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    const c = createCachedClient({ namespace, redis, models: { User: { ttl: 300 } }, onError: (error) => errors.push(error.message) });
    const other = client(url, namespace, false);
    cleanups.push(async () => {
      await c.close();
      redis.disconnect();
    });
    const user = await c.base.user.create({ data: { email: `failover-acl-${namespace}@example.com`, name: "old" } });
    await cache(c, user.id);
    await other.prisma.user.update({ where: { id: user.id }, data: { name: "new" } });
    expect(await names(c, user.id)).toEqual(["new", "new"]);
    await cache(c, user.id);
    expect(errors.filter((message) => message.includes("run_id"))).toHaveLength(1);
  });

  it("reads in flight across the switch to a promoted replica are never answered from it before the fence", async () => {
    const { primary, replica, proxy } = await primaryAndReplicaBehindProxy();
    const namespace = uniqueNamespace();
    const reader = client(proxy.url, namespace, false);
    const writer = client(primary.url, namespace, false);
    const users = await Promise.all([0, 1, 2, 3].map((i) => writer.base.user.create({ data: { email: `failover-race-${namespace}-${i}@example.com`, name: "old" } })));
    for (const user of users) await cache(reader, user.id);
    await replica.replicatedFrom(primary);
    await replica.promote();
    await Promise.all(users.map((user) => writer.prisma.user.update({ where: { id: user.id }, data: { name: "new" } })));

    // Many reads outstanding while the connection switches: unanswered ones are resent by ioredis
    // to the new server, new ones queue until it is connected.
    let stop = false;
    const seen: Array<string | null | undefined> = [];
    const loops = users.map(async (user) => {
      while (!stop) {
        seen.push(...(await names(reader, user.id)));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    await sleep(100);
    proxy.switchTo(replica.port);
    await sleep(1_500);
    stop = true;
    await Promise.all(loops);
    expect(seen.filter((name) => name !== "new")).toEqual([]);
    expect(reader.prisma.$cache.stats().redisServerChanges).toBe(1);
    // Served from the promoted replica's cache again.
    const l2Hits = reader.prisma.$cache.stats().l2Hits;
    await cache(reader, users[0]!.id);
    expect(reader.prisma.$cache.stats().l2Hits).toBeGreaterThan(l2Hits);
  });
});
