import { randomUUID } from "node:crypto";
import net from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUMP_VERSIONS } from "../../src/stores/redis-scripts.ts";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { ChaosRedis } from "../helpers/redis-server.ts";
import { sleep, until } from "../helpers/wait.ts";

/**
 * What one write sends to Redis, seen with MONITOR (on a private server): the
 * announcement and the confirmation, each one script; no acknowledgement from the writer to
 * itself; none of the announcement; Bloom additions only for writes that can create identities.
 */
describe("the Redis commands of a write", () => {
  const namespace = uniqueNamespace();
  const models = { User: { bloom: true }, Post: true } as const;
  const clients: Array<ReturnType<typeof createCachedClient>> = [];
  // A private server: MONITOR sees only this test's commands.
  let server: ChaosRedis;
  let admin: Redis;
  const connections: Redis[] = [];
  const connect = () => {
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    connections.push(redis);
    return redis;
  };
  beforeAll(async () => {
    server = await ChaosRedis.start();
    admin = connect();
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    for (const redis of connections) redis.disconnect();
    await server.stop();
  });
  /** A user created through the extension, so the Bloom filters hold its identities. */
  const createUser = (client: ReturnType<typeof createCachedClient>) => client.prisma.user.create({ data: { email: `${uniqueNamespace()}@example.com` } });
  const instance = () => {
    const client = createCachedClient({ namespace, models, redis: connect() });
    clients.push(client);
    return client;
  };

  /**
   * Runs `work` and returns the commands MONITOR saw that name this namespace (scripts' own calls
   * included). A plain socket, not ioredis: its monitor mode trips over lines still arriving when
   * it disconnects.
   */
  async function commandsOf(work: () => Promise<unknown>): Promise<string[][]> {
    const socket = net.connect(server.port, "127.0.0.1");
    const seen: string[][] = [];
    let buffered = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      const lines = (buffered + chunk).split("\r\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        // +1700000000.123456 [0 127.0.0.1:50000] "evalsha" "…" "…"
        const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]!);
        if (args.some((arg) => arg.includes(namespace))) seen.push(args);
      }
    });
    await new Promise<void>((resolve) => {
      socket.once("data", () => resolve());
      socket.write("MONITOR\r\n");
    });
    try {
      await work();
      // The feed lags the replies a little: wait for a marker sent after the work.
      const marker = `${namespace}:marker:${randomUUID()}`;
      await admin.get(marker);
      await until(() => seen.some((args) => args.includes(marker)));
      return seen.filter((args) => !args.includes(marker));
    } finally {
      socket.destroy();
    }
  }
  const named = (commands: string[][], name: string) => commands.filter(([command]) => command!.toLowerCase() === name);
  // The write's scripts: not the heartbeat, statistics or snapshot scripts that may run in the same window.
  const bumps = (commands: string[][]) => named(commands, "evalsha").filter(([, sha]) => sha === BUMP_VERSIONS.sha);
  const acks = (commands: string[][]) => named(commands, "publish").filter(([, channel]) => channel!.includes(":ack:"));

  it("one instance: an update by id is two scripts, with no acknowledgement and no SETBIT", async () => {
    const a = instance();
    await a.prisma.$cache.prepareBloom();
    const user = await createUser(a);
    expect(await a.prisma.user.findUnique({ where: { id: user.id } })).toMatchObject({ email: user.email });
    const commands = await commandsOf(() => a.prisma.user.update({ where: { id: user.id }, data: { name: "renamed" } }));
    expect(bumps(commands), JSON.stringify(commands)).toHaveLength(2);
    expect(acks(commands), "the writer acknowledged its own bump through Redis").toEqual([]);
    expect(named(commands, "setbit"), "an update by id added to the Bloom filters").toEqual([]);
    expect(await a.prisma.user.findUnique({ where: { id: user.id } })).toMatchObject({ name: "renamed" });
  });

  it("two instances: the other acknowledges the confirmation only, not the announcement", async () => {
    const [a, b] = [clients[0] ?? instance(), instance()];
    await b.prisma.$cache.prepareBloom();
    const user = await createUser(a);
    expect(await b.prisma.user.findUnique({ where: { id: user.id } })).toMatchObject({ email: user.email });
    const commands = await commandsOf(() => a.prisma.user.update({ where: { id: user.id }, data: { name: "seen by b" } }));
    expect(bumps(commands), JSON.stringify(commands)).toHaveLength(2);
    expect(acks(commands), JSON.stringify(acks(commands))).toHaveLength(1);
    // The write resolved after b applied it: b's L1 answers the new row.
    expect(await b.prisma.user.findUnique({ where: { id: user.id } })).toMatchObject({ name: "seen by b" });
    await sleep(50);
    expect(acks(await commandsOf(() => sleep(50))), "no late acknowledgement").toEqual([]);
  });

  it("an instance never acknowledges a message in its own name that it is not waiting for (late, or forged): that would stand in for another instance's", async () => {
    const a = clients[0]!;
    const registered = await admin.zrange(`{${namespace}}:instances`, 0, -1);
    expect(registered.length).toBeGreaterThan(0);
    const before = a.prisma.$cache.stats().invalidationsReceived;
    const commands = await commandsOf(async () => {
      for (const writer of registered) await admin.publish(`{${namespace}}:events`, `1|i|${writer}|${randomUUID()}|1|["m:Post"]`);
      await until(() => a.prisma.$cache.stats().invalidationsReceived >= before + 1);
      // Every instance handles every message: on a loaded machine the others' acknowledgements may trail the first one a received.
      await sleep(300);
    });
    // Every instance received every message and acknowledges those of the others, never its own:
    // one acknowledgement from us would stand in for another instance's.
    const perWriter = registered.map((id) => acks(commands).filter(([, channel]) => channel === `{${namespace}}:ack:${id}`).length);
    expect(perWriter).toEqual(registered.map(() => registered.length - 1));
  });

  it("a create adds its identities to the shared filter: an instance loading it afterwards finds the record by every unique key", async () => {
    const a = clients[0]!;
    const email = `created-${uniqueNamespace()}@example.com`;
    const commands = await commandsOf(() => a.prisma.user.create({ data: { email } }));
    expect(named(commands, "setbit").length, "a create adds its identities").toBeGreaterThan(0);
    const created = await a.base.user.findUniqueOrThrow({ where: { email } });
    const late = instance();
    await late.prisma.$cache.prepareBloom();
    expect(late.prisma.$cache.stats().bloomBuilds, "the filter was loaded, not rebuilt").toBe(0);
    expect(await late.prisma.user.findUnique({ where: { email } })).toMatchObject({ id: created.id });
    expect(await late.prisma.user.findUnique({ where: { id: created.id } })).toMatchObject({ email });
    expect(late.prisma.$cache.stats().bloomRejects).toBe(0);
  });
});
