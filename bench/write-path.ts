// The write path taken apart: a plain Prisma `update` by id, the same update through the extension
// (one instance: it waits for its own acknowledgement), and the Redis steps such a write adds,
// measured on raw connections — an EVALSHA round trip, and a PUBLISH that a subscriber of the
// same process receives and acknowledges with a PUBLISH back (the ack cycle). Interleaved rounds.
//
//   npx tsx bench/write-path.ts            (BENCH_SCALE=0.3 for a quick run)
//
// Creates a scratch database and a unique cache namespace and removes both at the end.
import { PrismaPg } from "@prisma/adapter-pg";
import { cacheExtension } from "../src/index.ts";
import { countingPool } from "./lib/counting-pg.ts";
import { measure, type Stats } from "./lib/measure.ts";
import { Cleanup, deleteNamespace, ensureGeneratedClient, openScratchResources, uniqueNamespace } from "./lib/setup.ts";
import { header, micros, renderTable, versus } from "./lib/table.ts";

const SCALE = Number(process.env.BENCH_SCALE ?? 1) > 0 ? Number(process.env.BENCH_SCALE ?? 1) : 1;
const n = (count: number) => Math.max(20, Math.round(count * SCALE));
const NOOP_SCRIPT = "return 1";

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
    const users = await Promise.all([1, 2].map((i) => base.user.create({ data: { email: `writer${i}@bench.example` } })));
    const client = base.$extends(cacheExtension({ redis, namespace, models: { User: true } }));
    cleanup.add("close cache", () => client.$cache.close());
    await client.user.findUnique({ where: { id: users[1]!.id } });

    const statementsPerWrite = async (write: () => Promise<unknown>) => {
      const before = counter.statements;
      for (let i = 0; i < 10; i++) await write();
      return (counter.statements - before) / 10;
    };
    const plainStatements = await statementsPerWrite(() => base.user.update({ where: { id: users[0]!.id }, data: { version: { increment: 1 } } }));
    const extendedStatements = await statementsPerWrite(() => client.user.update({ where: { id: users[1]!.id }, data: { version: { increment: 1 } } }));
    const ackCycle = await startAckCycle(redis, namespace, cleanup);
    const sha = (await redis.script("LOAD", NOOP_SCRIPT)) as string;
    const [plain, extended, evalsha, ack] = await measure(
      [
        { name: "plain Prisma update by id", kind: "async", fn: () => base.user.update({ where: { id: users[0]!.id }, data: { version: { increment: 1 } } }), samples: n(600), warmup: n(60) },
        { name: "update by id through the extension (1 instance)", kind: "async", fn: () => client.user.update({ where: { id: users[1]!.id }, data: { version: { increment: 1 } } }), samples: n(600), warmup: n(60) },
        { name: "raw EVALSHA round trip (a no-op script)", kind: "async", fn: () => redis.evalsha(sha, 0), samples: n(600), warmup: n(60) },
        { name: "raw ack cycle: PUBLISH → own subscriber → PUBLISH ack → received", kind: "async", fn: ackCycle, samples: n(600), warmup: n(60) },
      ],
      { rounds: 20 },
    );
    const stats = client.$cache.stats();
    process.stdout.write(`${header("Write path: an update by id, and the Redis steps it adds")}\n\n`);
    const line = (s: Stats, baseline?: Stats) => [`  ${s.name}`, micros(s.median), micros(s.p99), baseline ? versus(s.median, baseline.median) : "baseline"];
    process.stdout.write(
      renderTable([{ header: "operation" }, { header: "median µs" }, { header: "p99 µs" }, { header: "median vs plain" }], [line(plain!), line(extended!, plain), line(evalsha!, plain), line(ack!, plain)]) + "\n\n",
    );
    const overhead = extended!.median - plain!.median;
    process.stdout.write(
      `The extension adds ${micros(overhead)} µs to the median write (${(extended!.median / plain!.median).toFixed(2)}× plain); one EVALSHA round trip is ${micros(evalsha!.median)} µs and one ack cycle ${micros(ack!.median)} µs.\n` +
        `SQL statements per update: plain ${plainStatements}, through the extension ${extendedStatements}.\n` +
        `Invalidations sent ${stats.invalidationsSent}, ack timeouts ${stats.invalidationAckTimeouts}, queued ${stats.invalidationsQueued}.\n`,
    );
  } finally {
    await cleanup.run();
  }
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

await main();
