// The write path taken apart: a plain Prisma `update` by id (also through a pass-through query
// hook, and through the extension without Redis: the library's own share), the same update through the extension
// with one instance (it applies its own bump from the script's reply: no acknowledgement to wait
// for) and with four (three child processes on another namespace hold the row in L1 and
// acknowledge), and the Redis steps such a write adds, measured on raw connections — an EVALSHA
// round trip, and a PUBLISH that a subscriber of the same process receives and acknowledges with a
// PUBLISH back (the ack cycle, what a write with other instances waits for). Interleaved rounds.
//
//   npx tsx bench/write-path.ts            (BENCH_SCALE=0.3 for a quick run)
//
// Creates a scratch database and a unique cache namespace and removes both at the end.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { cacheExtension } from "../src/index.ts";
import { countingPool } from "./lib/counting-pg.ts";
import { measure, type Stats, scaled } from "./lib/measure.ts";
import { Cleanup, connectRedis, deleteNamespace, ensureGeneratedClient, openScratchResources, uniqueNamespace } from "./lib/setup.ts";
import { header, micros, renderTable, versus } from "./lib/table.ts";

const n = scaled;
const NOOP_SCRIPT = "return 1";
/** The other instances of the four-instance measurement (child processes). */
const PEERS = 3;

async function main(): Promise<void> {
  ensureGeneratedClient();
  const { PrismaClient } = await import("../prisma/generated/client.ts");
  const cleanup = new Cleanup();
  try {
    const { db, redis } = await openScratchResources("pcs_bench_write_path", cleanup);
    const namespace = uniqueNamespace("bench-write-path");
    cleanup.add("delete namespace keys", () => deleteNamespace(redis, namespace));
    const { pool, counter } = countingPool(db.url);
    const base = new PrismaClient({ adapter: new PrismaPg(pool) });
    cleanup.add("end pool", () => pool.end());
    cleanup.add("disconnect Prisma", () => base.$disconnect());
    const users = await Promise.all([1, 2, 3, 4, 5].map((i) => base.user.create({ data: { email: `writer${i}@bench.example` } })));
    const client = base.$extends(cacheExtension({ redis, namespace, models: { User: true } }));
    cleanup.add("close cache", () => client.$cache.close());
    await client.user.findUnique({ where: { id: users[1]!.id } });
    const fleetNamespace = uniqueNamespace("bench-write-path-fleet");
    cleanup.add("delete fleet namespace keys", () => deleteNamespace(redis, fleetNamespace));
    const fleetClient = base.$extends(cacheExtension({ redis, namespace: fleetNamespace, models: { User: true } }));
    cleanup.add("close fleet cache", () => fleetClient.$cache.close());
    const peers = await startPeers(db.url, fleetNamespace, users[2]!.id, cleanup);
    // Without Redis: what the library's own JavaScript adds to a write, apart from the fleet protocol.
    const localClient = base.$extends(cacheExtension({ models: { User: true } }));
    cleanup.add("close in-process cache", () => localClient.$cache.close());
    // What any query-component hook costs a write (the cache runs writes through one).
    const hookedClient = base.$extends({ query: { $allModels: { $allOperations: ({ args, query }) => query(args) } } });

    const statementsPerWrite = async (write: () => Promise<unknown>) => {
      const before = counter.statements;
      for (let i = 0; i < 10; i++) await write();
      return (counter.statements - before) / 10;
    };
    const plainStatements = await statementsPerWrite(() => base.user.update({ where: { id: users[0]!.id }, data: { version: { increment: 1 } } }));
    const extendedStatements = await statementsPerWrite(() => client.user.update({ where: { id: users[1]!.id }, data: { version: { increment: 1 } } }));
    const ackCycle = await startAckCycle(redis, namespace, cleanup);
    const sha = (await redis.script("LOAD", NOOP_SCRIPT)) as string;
    const [plain, hooked, local, extended, fleet, evalsha, ack] = await measure(
      [
        { name: "plain Prisma update by id", kind: "async", fn: () => base.user.update({ where: { id: users[0]!.id }, data: { version: { increment: 1 } } }), samples: n(600), warmup: n(60) },
        { name: "plain Prisma through a pass-through query hook", kind: "async", fn: () => hookedClient.user.update({ where: { id: users[3]!.id }, data: { version: { increment: 1 } } }), samples: n(600), warmup: n(60) },
        { name: "update by id through the extension without Redis", kind: "async", fn: () => localClient.user.update({ where: { id: users[4]!.id }, data: { version: { increment: 1 } } }), samples: n(600), warmup: n(60) },
        { name: "update by id through the extension (1 instance)", kind: "async", fn: () => client.user.update({ where: { id: users[1]!.id }, data: { version: { increment: 1 } } }), samples: n(600), warmup: n(60) },
        { name: `update by id through the extension (${PEERS + 1} instances)`, kind: "async", fn: () => fleetClient.user.update({ where: { id: users[2]!.id }, data: { version: { increment: 1 } } }), samples: n(600), warmup: n(60) },
        { name: "raw EVALSHA round trip (a no-op script)", kind: "async", fn: () => redis.evalsha(sha, 0), samples: n(600), warmup: n(60) },
        { name: "raw ack cycle: PUBLISH → own subscriber → PUBLISH ack → received", kind: "async", fn: ackCycle, samples: n(600), warmup: n(60) },
      ],
      { rounds: 20 },
    );
    const stats = client.$cache.stats();
    process.stdout.write(`${header("Write path: an update by id, and the Redis steps it adds")}\n\n`);
    const line = (s: Stats, baseline?: Stats) => [`  ${s.name}`, micros(s.median), micros(s.p99), baseline ? versus(s.median, baseline.median) : "baseline"];
    process.stdout.write(
      renderTable([{ header: "operation" }, { header: "median µs" }, { header: "p99 µs" }, { header: "median vs plain" }], [line(plain!), line(hooked!, plain), line(local!, plain), line(extended!, plain), line(fleet!, plain), line(evalsha!, plain), line(ack!, plain)]) + "\n\n",
    );
    const overhead = extended!.median - plain!.median;
    process.stdout.write(
      `The extension adds ${micros(overhead)} µs to the median write (${(extended!.median / plain!.median).toFixed(2)}× plain), of which ${micros(local!.median - plain!.median)} µs without Redis (${(local!.median / plain!.median).toFixed(2)}× plain: the rest is the fleet protocol, the announcement beside the SQL and the confirmation after it); with ${PEERS + 1} instances ${(fleet!.median / plain!.median).toFixed(2)}× plain; one EVALSHA round trip is ${micros(evalsha!.median)} µs and one ack cycle ${micros(ack!.median)} µs.\n` +
        `SQL statements per update: plain ${plainStatements}, through the extension ${extendedStatements}.\n` +
        `Invalidations sent ${stats.invalidationsSent}, ack timeouts ${stats.invalidationAckTimeouts}, queued ${stats.invalidationsQueued}; with ${PEERS + 1} instances: ack timeouts ${fleetClient.$cache.stats().invalidationAckTimeouts}, peers' invalidations received ${(await peers.received()).join(", ")}.\n`,
    );
  } finally {
    await cleanup.run();
  }
}

/**
 * Other instances in child processes: each holds `userId` in L1 and acknowledges every write
 * until stopped. `received()` asks each how many invalidations it applied.
 */
async function startPeers(databaseUrl: string, namespace: string, userId: number, cleanup: Cleanup): Promise<{ received(): Promise<number[]> }> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < PEERS; i++) {
    const child = fork(fileURLToPath(import.meta.url), [], { execArgv: ["--import", "tsx"], env: { ...process.env, PCS_BENCH_ROLE: "peer", PEER_DATABASE_URL: databaseUrl, PEER_NAMESPACE: namespace, PEER_USER_ID: String(userId) }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.push(child);
    cleanup.add(`stop peer ${i + 1}`, async () => {
      if (child.exitCode !== null || !child.connected) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.send("stop");
      await exited;
    });
  }
  const next = (child: ChildProcess) => new Promise<unknown>((resolve) => child.once("message", resolve));
  await Promise.all(children.map(next));
  return {
    received: () => Promise.all(children.map(async (child) => {
      const reply = next(child);
      child.send("stats");
      return (await reply) as number;
    })),
  };
}

async function peer(): Promise<void> {
  const { PrismaClient } = await import("../prisma/generated/client.ts");
  const redis = await connectRedis();
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.PEER_DATABASE_URL! }) });
  const prisma = base.$extends(cacheExtension({ redis, namespace: process.env.PEER_NAMESPACE!, models: { User: true } }));
  const userId = Number(process.env.PEER_USER_ID);
  await prisma.user.findUnique({ where: { id: userId } });
  process.on("message", async (message) => {
    if (message === "stats") return process.send!(prisma.$cache.stats().invalidationsReceived);
    await prisma.$cache.close();
    await base.$disconnect();
    redis.disconnect();
    process.exit(0);
  });
  process.send!("ready");
}

/** A function that publishes a message and resolves when a subscriber of this process has acknowledged it back. */
async function startAckCycle(redis: import("ioredis").Redis, namespace: string, cleanup: Cleanup): Promise<() => Promise<void>> {
  const subscriber = redis.duplicate();
  cleanup.add("quit ack-cycle subscriber", () => subscriber.quit());
  const events = `${namespace}:bench-events`;
  const acks = `${namespace}:bench-acks`;
  await subscriber.subscribe(events, acks);
  const waiting = new Map<string, () => void>();
  subscriber.on("message", (channel: string, message: string) => {
    if (channel === events) void redis.publish(acks, message);
    else waiting.get(message)?.();
  });
  let next = 0;
  return () =>
    new Promise<void>((resolve) => {
      const id = String(++next);
      waiting.set(id, () => {
        waiting.delete(id);
        resolve();
      });
      void redis.publish(events, id);
    });
}

await (process.env.PCS_BENCH_ROLE === "peer" ? peer() : main());
