import { afterAll, describe, expect, it } from "vitest";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { sleep, until } from "../helpers/wait.ts";

/**
 * What one write sends to Redis, seen with MONITOR (filtered to this test's namespace): the
 * announcement and the confirmation, each one script; no acknowledgement from the writer to
 * itself; none of the announcement; Bloom additions only for writes that can create identities.
 */
describe("the Redis commands of a write", () => {
  const namespace = uniqueNamespace();
  const models = { User: { bloom: true }, Post: true } as const;
  const clients: Array<ReturnType<typeof createCachedClient>> = [];
  const admin = createRedis();
  afterAll(async () => {
    for (const client of clients) await client.close();
    admin.disconnect();
  });
  /** A user created through the extension, so the Bloom filters hold its identities. */
  const createUser = (client: ReturnType<typeof createCachedClient>) => client.prisma.user.create({ data: { email: `${uniqueNamespace()}@example.com` } });
  const instance = () => {
    const client = createCachedClient({ namespace, models });
    clients.push(client);
    return client;
  };

  /** Runs `work` and returns the commands MONITOR saw that name this namespace (scripts' own calls included). */
  async function commandsOf(work: () => Promise<unknown>): Promise<string[][]> {
    const monitor = await createRedis().monitor();
    const seen: string[][] = [];
    monitor.on("monitor", (_time: string, args: string[]) => {
      if (args.some((arg) => String(arg).includes(namespace))) seen.push(args.map(String));
    });
    try {
      await work();
      // MONITOR's stream lags the replies a little: wait for a marker sent after the work.
      const marker = `${namespace}:marker:${Math.random()}`;
      await admin.get(marker);
      await until(() => seen.some((args) => args.includes(marker)));
      return seen.filter((args) => !args.includes(marker));
    } finally {
      monitor.disconnect();
    }
  }
  const named = (commands: string[][], name: string) => commands.filter(([command]) => command!.toLowerCase() === name);
  const acks = (commands: string[][]) => named(commands, "publish").filter(([, channel]) => channel!.includes(":ack:"));

  it("one instance: an update by id is two scripts, with no acknowledgement and no SETBIT", async () => {
    const a = instance();
    await a.prisma.$cache.prepareBloom();
    const user = await createUser(a);
    expect(await a.prisma.user.findUnique({ where: { id: user.id } })).toMatchObject({ email: user.email });
    const commands = await commandsOf(() => a.prisma.user.update({ where: { id: user.id }, data: { name: "renamed" } }));
    expect(named(commands, "evalsha"), JSON.stringify(commands)).toHaveLength(2);
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
    expect(named(commands, "evalsha")).toHaveLength(2);
    expect(acks(commands), JSON.stringify(acks(commands))).toHaveLength(1);
    // The write resolved after b applied it: b's L1 answers the new row.
    expect(await b.prisma.user.findUnique({ where: { id: user.id } })).toMatchObject({ name: "seen by b" });
    await sleep(50);
    expect(acks(await commandsOf(() => sleep(50))), "no late acknowledgement").toEqual([]);
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
