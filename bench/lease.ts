// The L1 lease's two costs, for choosing its defaults: how long a write waits when an instance
// cannot acknowledge it (frozen, busy, cut off: the writer waits until that instance's lease
// lapsed), and how many L1 hits a short hiccup costs (Redis paused, so heartbeats go unanswered:
// once the lease lapses, reads go to Redis — here, paused — and then the database).
//
//   npx tsx bench/lease.ts          (or: npm run bench:lease)
//
// Uses a scratch database and a private redis-server (paused with SIGSTOP); removes both.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { cacheExtension } from "../src/index.ts";
import { ChaosRedis } from "../test/helpers/redis-server.ts";
import { Cleanup, createScratchDatabase, ensureGeneratedClient, uniqueNamespace } from "./lib/setup.ts";
import { header, renderTable, type Row } from "./lib/table.ts";

const LEASES = [250, 500, 1_000, 2_000];
const HICCUPS = [100, 200, 400, 800];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  ensureGeneratedClient();
  const { PrismaClient } = await import("../prisma/generated/client.ts");
  const cleanup = new Cleanup();
  try {
    const db = await createScratchDatabase("pcs_bench_lease");
    cleanup.add("drop database", () => db.drop());
    const server = await ChaosRedis.start();
    cleanup.add("stop redis-server", () => server.stop());
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    cleanup.add("disconnect Prisma", () => base.$disconnect());
    const user = await base.user.create({ data: { email: "lease@bench.example", name: "lease" } });

    const rows: Row[] = [];
    for (const ttl of LEASES) {
      const namespace = uniqueNamespace("bench-lease");
      const connect = () => new Redis(server.url, { maxRetriesPerRequest: 1 });
      const options = { namespace, models: { User: true }, lease: { ttl } };
      const readerRedis = connect();
      const writerRedis = connect();
      const reader = base.$extends(cacheExtension({ ...options, redis: readerRedis }));
      const writer = base.$extends(cacheExtension({ ...options, redis: writerRedis }));
      await sleep(200);
      const writeMs = await writeLatencyWithSilentInstance(server.url, namespace, writer, user.id);
      const lost: string[] = [];
      for (const hiccup of HICCUPS) lost.push(String(await readsLostToHiccup(server, reader, user.id, hiccup)));
      rows.push([`${ttl} ms / ${Math.max(10, Math.floor(ttl / 4))} ms`, `${Math.round(writeMs)} ms`, ...lost]);
      await reader.$cache.close();
      await writer.$cache.close();
      readerRedis.disconnect();
      writerRedis.disconnect();
    }
    console.log(header("L1 lease: write latency with a silent instance vs L1 hits lost to hiccups"));
    console.log();
    console.log(
      renderTable(
        [{ header: "lease ttl / heartbeat" }, { header: "write, 1 instance silent (median of 5)" }, ...HICCUPS.map((h) => ({ header: `reads off L1, Redis paused ${h} ms` }))],
        rows,
      ),
    );
    console.log("\nReads: one every event-loop turn on one key, for the pause and 300 ms after it; 'off L1' = not answered from L1.");
  } finally {
    await cleanup.run();
  }
}

/** A raw subscriber counts as a receiver of invalidations and never acknowledges them: the writer waits for its lease. */
async function writeLatencyWithSilentInstance(url: string, namespace: string, writer: { user: { update(args: object): PromiseLike<unknown> } }, id: number): Promise<number> {
  const silent = new Redis(url);
  await silent.subscribe(`{${namespace}}:events`);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await writer.user.update({ where: { id }, data: { name: `w${i}` } });
    samples.push(performance.now() - started);
  }
  silent.disconnect();
  return samples.sort((a, b) => a - b)[2]!;
}

/** Reads in a loop while Redis pauses for `hiccupMs`; counts the reads L1 did not answer. */
async function readsLostToHiccup(server: ChaosRedis, reader: { user: { findUnique(args: object): PromiseLike<unknown> }; $cache: { stats(): { l1Hits: number } } }, id: number, hiccupMs: number): Promise<number> {
  for (let i = 0; i < 20; i++) await reader.user.findUnique({ where: { id } });
  await sleep(300);
  const before = reader.$cache.stats().l1Hits;
  let reads = 0;
  const end = performance.now() + hiccupMs + 300;
  server.pause();
  const resume = setTimeout(() => server.resume(), hiccupMs);
  try {
    while (performance.now() < end) {
      await reader.user.findUnique({ where: { id } });
      reads++;
      await yieldToLoop();
    }
  } finally {
    clearTimeout(resume);
    server.resume();
  }
  return reads - (reader.$cache.stats().l1Hits - before);
}

await main();
