// Invalidation, measured:
//   (a) the cost of one write (update by id) through the extension while 10, 1 000 and 100 000
//       entries of that model sit in Redis (one instance and namespace per size, measured
//       interleaved), next to the same raw Prisma update. Invalidation bumps a few version keys
//       and never looks at entries, so the cost should not depend on the count.
//   (b) cross-instance invalidation: instance B, a second process (its own PrismaClient, Redis
//       connections and L1), holds a user in L1; instance A (this process) updates it. Measured:
//       A's write latency (it waits for every instance's acknowledgement), when B applied the
//       invalidation (a listener on B's subscriber connection, run right after the extension's
//       own), and when a loop polling the user in B first returned the new version.
//
//   npx tsx bench/invalidation.ts
//
// Creates a scratch database and a unique cache namespace and removes both at the end.
// DATABASE_URL (admin connection) and REDIS_URL override the local defaults. Nothing is asserted:
// the exit code is 0 unless the benchmark itself fails. BENCH_SCALE scales the sample counts.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import type { Redis } from "ioredis";
import { parseEventMessage } from "../src/invalidation/wire-format.ts";
import { cacheExtension } from "../src/index.ts";
import { identityTag } from "../src/invalidation/dependencies.ts";
import { canonicalize } from "../src/key/canonical.ts";
import { deriveKey } from "../src/key/derive-key.ts";
import { encodePrismaArgValue } from "../src/prisma/prisma-values.ts";
import { measure, summarize, type Stats, scaled } from "./lib/measure.ts";
import { Cleanup, connectRedis, createScratchDatabase, deleteNamespace, ensureGeneratedClient, keysInNamespace, redisUrl, uniqueNamespace, safeHost } from "./lib/setup.ts";
import { header, micros, renderTable, versus, type Row } from "./lib/table.ts";

const n = scaled;

const SIZES = [10, 1_000, 100_000];
/** Entries filled by real cached reads (each one a database query); beyond it, copies of a real entry under real keys. */
const REAL_READS_MAX = 1_000;
const USERS = 1_000;
/**
 * Entry ttl. Not 3600: with the default jitter 0.1, 3600 s × 1.1 is 3960000.0000000005 ms in
 * floating point, and the record-tag ttl derived from it makes Redis reject every invalidation
 * (SET … PX <non-integer>), so writes would not invalidate at all. 600 s × 1.1 is exact.
 */
const TTL_S = 600;

const now = () => performance.timeOrigin + performance.now();

type PeerRequest =
  | { type: "ping"; t: number }
  | { type: "prepare"; id: number }
  | { type: "arm"; id: number; expect: number }
  | { type: "stop" };
type PeerReply =
  | { type: "started" }
  | { type: "pong"; t: number; peer: number }
  | { type: "ready"; version: number; fromL1: boolean }
  | { type: "armed" }
  | { type: "observed"; received: number; applied: number; seen: number; lastOldStart: number; polls: number; seenVia: "l1" | "l2" | "db" }
  | { type: "stopped" };

// ── instance B: a child process ─────────────────────────────────────────────────────────────

async function peer(): Promise<void> {
  const { PrismaClient } = await import("../prisma/generated/client.ts");
  const send = (reply: PeerReply) => process.send!(reply);
  const redis = await connectRedis();
  // Keep the subscriber connection the extension opens, to listen to it after the extension does.
  let subscriber: Redis | undefined;
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (override) => (subscriber = duplicate(override));
  const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.PEER_DATABASE_URL! }) });
  const prisma = base.$extends(cacheExtension({ redis, namespace: process.env.PEER_NAMESPACE!, ttl: TTL_S, models: { User: true } }));
  await prisma.user.findFirst();
  if (subscriber === undefined) throw new Error("the extension opened no subscriber connection");

  // Armed by A before each write: the tag whose invalidation B waits for. Two listeners bracket
  // the extension's own: `received` runs just before it (B has the message, nothing applied yet),
  // `applied` just after (B's versions are updated and its acknowledgement has been sent).
  let watched: { tag: string; received: number; applied: number } | undefined;
  const concerns = (message: string) => {
    if (watched === undefined) return false;
    const parsed = parseEventMessage(message);
    return parsed.kind === "invalidation" && parsed.names.includes(watched.tag);
  };
  subscriber.prependListener("message", (_channel: string, message: string) => {
    const at = now();
    if (watched !== undefined && watched.received === 0 && concerns(message)) watched.received = at;
  });
  subscriber.on("message", (_channel: string, message: string) => {
    const at = now();
    if (watched !== undefined && watched.applied === 0 && concerns(message)) watched.applied = at;
  });

  const read = async (id: number) => {
    const before = prisma.$cache.stats();
    const user = await prisma.user.findUnique({ where: { id } });
    const after = prisma.$cache.stats();
    const via: "l1" | "l2" | "db" = after.l1Hits > before.l1Hits ? "l1" : after.l2Hits > before.l2Hits ? "l2" : "db";
    return { version: user!.version, via };
  };

  process.on("message", (request: PeerRequest) => {
    void (async () => {
      switch (request.type) {
        case "ping":
          return send({ type: "pong", t: request.t, peer: now() });
        case "prepare": {
          await read(request.id);
          const { version, via } = await read(request.id);
          return send({ type: "ready", version, fromL1: via === "l1" });
        }
        case "arm": {
          const armed = { tag: identityTag("User", { key: "id", fields: ["id"] }, [request.id])!, received: 0, applied: 0 };
          watched = armed;
          send({ type: "armed" });
          // Poll until the new version shows, every ~1 ms (a timer, not a busy loop, so B leaves the
          // CPU to A, PostgreSQL and Redis; an L1 hit resolves in a microtask, and a loop of those
          // alone would never even let the invalidation message in).
          let lastOldStart = 0;
          for (let polls = 1; ; polls++) {
            const started = now();
            const { version, via } = await read(request.id);
            if (version >= request.expect) {
              const seen = now();
              await new Promise((resolve) => setTimeout(resolve, 1)); // let the listeners' times land if on their way
              watched = undefined;
              return send({ type: "observed", received: armed.received, applied: armed.applied, seen, lastOldStart, polls, seenVia: via });
            }
            lastOldStart = started;
            await new Promise((resolve) => setTimeout(resolve, 0));
          }
        }
        case "stop":
          await prisma.$cache.close();
          await base.$disconnect();
          redis.disconnect();
          return void process.send!({ type: "stopped" } satisfies PeerReply, () => process.disconnect());
      }
    })().catch((error: unknown) => {
      console.error("peer:", error);
      process.exit(1);
    });
  });
  send({ type: "started" });
}

/** A's side of the conversation with B: one request at a time, answered by type. */
class Peer {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<string, (reply: PeerReply) => void>();
  readonly #exited: Promise<void>;

  constructor(env: Record<string, string>) {
    this.#child = fork(fileURLToPath(import.meta.url), [], { execArgv: ["--import", "tsx"], env: { ...process.env, ...env, PCS_BENCH_ROLE: "peer" }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.#child.on("message", (reply: PeerReply) => {
      const resolve = this.#waiting.get(reply.type);
      this.#waiting.delete(reply.type);
      resolve?.(reply);
    });
    this.#exited = new Promise((resolve) => this.#child.once("exit", () => resolve()));
  }

  next<T extends PeerReply["type"]>(type: T, timeoutMs = 30_000): Promise<Extract<PeerReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`peer sent no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      this.#waiting.set(type, (reply) => {
        clearTimeout(timer);
        resolve(reply as Extract<PeerReply, { type: T }>);
      });
    });
  }

  async ask<T extends PeerReply["type"]>(request: PeerRequest, type: T): Promise<Extract<PeerReply, { type: T }>> {
    const reply = this.next(type);
    this.#child.send(request);
    return reply;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || !this.#child.connected) return;
    await this.ask({ type: "stop" }, "stopped").catch(() => this.#child.kill());
    await this.#exited;
  }
}

// ── instance A: the benchmark ───────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const started = performance.now();
  ensureGeneratedClient();
  const { PrismaClient } = await import("../prisma/generated/client.ts");
  const cleanup = new Cleanup();
  try {
    // ── setup ────────────────────────────────────────────────────────────────────────────────
    const db = await createScratchDatabase("pcs_bench_invalidation");
    cleanup.add("drop scratch database", db.drop);
    const redis = await connectRedis();
    cleanup.add("quit Redis", () => redis.quit());
    const namespace = uniqueNamespace("bench-inval");
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url, max: 8 }) });
    cleanup.add("disconnect Prisma", () => base.$disconnect());
    await base.user.createMany({ data: Array.from({ length: USERS }, (_, i) => ({ email: `user${i}@bench.example`, name: `Bench User ${i}` })) });
    const ids = (await base.user.findMany({ select: { id: true }, orderBy: { id: "asc" } })).map((user) => user.id);
    const writeIds = ids.slice(0, 10);

    const absorbed: string[] = [];
    const onError = (error: { code: string; message: string }) => void absorbed.push(`${error.code}: ${error.message}`);
    const extend = (ns: string) => base.$extends(cacheExtension({ redis, namespace: ns, ttl: TTL_S, models: { User: true }, onError }));
    type Cached = ReturnType<typeof extend>;
    const updater = (client: typeof base | Cached) => {
      let next = 0;
      return () => client.user.update({ where: { id: writeIds[next++ % writeIds.length]! }, data: { version: { increment: 1 } } });
    };
    const rawUpdate = updater(base);

    // ── (a) write cost against the number of cached entries ──────────────────────────────────
    // One instance per size, each in its own namespace, all filled first and then measured
    // interleaved, so drift (CPU, load from other processes) spreads over every size alike.
    const sizes: Array<{ target: number; ns: string; client: Cached; update: () => PromiseLike<unknown>; entries: number; fillMs: number }> = [];
    for (const target of SIZES) {
      const ns = `${namespace}-n${target}`;
      cleanup.add(`delete keys of ${ns}`, () => deleteNamespace(redis, ns));
      const client = extend(ns);
      cleanup.add(`close the cache of ${ns}`, () => client.$cache.close());
      const fillStarted = performance.now();
      // Real cached reads (findUnique by id, one per user) up to REAL_READS_MAX, 32 at a time.
      const realTarget = Math.min(target, REAL_READS_MAX);
      const queue = ids.slice(0, realTarget);
      await Promise.all(Array.from({ length: 32 }, async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) await client.user.findUnique({ where: { id } });
      }));
      const count = async () => (await keysInNamespace(redis, ns)).length;
      await waitForEntries(count, realTarget);
      // Beyond that: copies of one real findMany entry under the keys distinct findMany reads would have.
      if (target > realTarget) {
        const template = await findManyTemplate(redis, ns, ids[0]!, (args) => client.user.findMany(args));
        const wanted = target - realTarget - 1;
        for (let i = 0; i < wanted; i += 5_000) {
          const pipeline = redis.pipeline();
          for (let j = i; j < Math.min(wanted, i + 5_000); j++) pipeline.set(findManyKey(ns, template.fingerprint, 1_000_000 + j), template.text, "PX", template.ttlMs);
          await pipeline.exec();
        }
      }
      sizes.push({ target, ns, client, update: updater(client), entries: await count(), fillMs: performance.now() - fillStarted });
    }
    const memory = /used_memory_human:(\S+)/.exec(await redis.info("memory"))?.[1] ?? "?";
    // Warm every write path (JIT, connections, script cache) before timing.
    for (let i = 0; i < n(200); i++) for (const fn of [rawUpdate, ...sizes.map((size) => size.update)]) await fn();
    const [rawA, ...extA] = await measure(
      [
        { name: "raw Prisma update by id", kind: "async", fn: rawUpdate, samples: n(400), warmup: n(20) },
        ...sizes.map((size) => ({ name: `extension, ${size.target} entries`, kind: "async" as const, fn: size.update, samples: n(400), warmup: n(20) })),
      ],
      { rounds: 20 },
    );
    const statsAfterA = sizes.map((size) => size.client.$cache.stats());

    // ── (b) cross-instance invalidation ──────────────────────────────────────────────────────
    cleanup.add("delete namespace keys", () => deleteNamespace(redis, namespace));
    const cached = extend(namespace);
    cleanup.add("close the cache", () => cached.$cache.close());
    const cachedUpdate = updater(cached);
    const soloUpdate = sizes[0]!.update;
    const peer = new Peer({ PEER_DATABASE_URL: db.url, PEER_NAMESPACE: namespace });
    cleanup.add("stop instance B", () => peer.stop());
    await peer.next("started", 60_000);
    // Both subscriptions live: every write now waits for two acknowledgements (A's own and B's).
    const channel = `{${namespace}}:events`;
    for (let i = 0; Number(((await redis.pubsub("NUMSUB", channel)) as [string, number])[1]) < 2; i++) {
      if (i > 500) throw new Error("instance B never subscribed");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // B's clock against A's, NTP-style: the ping with the shortest round trip bounds the error.
    let offset = 0;
    let bestRtt = Infinity;
    for (let i = 0; i < 200; i++) {
      const t0 = now();
      const { peer: tPeer } = await peer.ask({ type: "ping", t: t0 }, "pong");
      const t1 = now();
      if (t1 - t0 < bestRtt) {
        bestRtt = t1 - t0;
        offset = tPeer - (t0 + t1) / 2;
      }
    }
    const [raw2, solo2, ext2] = await measure(
      [
        { name: "raw Prisma update by id", kind: "async", fn: rawUpdate, samples: n(400), warmup: n(50) },
        { name: "update by id via extension, 1 instance", kind: "async", fn: soloUpdate, samples: n(400), warmup: n(50) },
        { name: "update by id via extension, 2 instances", kind: "async", fn: cachedUpdate, samples: n(400), warmup: n(50) },
      ],
      { rounds: 20 },
    );

    const iterations = n(300);
    const writeLatency: number[] = [];
    const receivedAfterResolve: number[] = [];
    const appliedAfterStart: number[] = [];
    const appliedAfterResolve: number[] = [];
    const seenAfterStart: number[] = [];
    const seenAfterResolve: number[] = [];
    const seenVia = { l1: 0, l2: 0, db: 0 };
    let notInL1 = 0;
    let receivedLate = 0;
    let appliedLate = 0;
    let missedMessages = 0;
    let staleAfterResolve = 0;
    for (let i = 0; i < iterations; i++) {
      const id = ids[100 + (i % 50)]!;
      const { version, fromL1 } = await peer.ask({ type: "prepare", id }, "ready");
      if (!fromL1) notInL1++;
      await peer.ask({ type: "arm", id, expect: version + 1 }, "armed");
      const observed = peer.next("observed");
      const t0 = now();
      await cached.user.update({ where: { id }, data: { version: { increment: 1 } } });
      const t1 = now();
      const { received, applied, seen, lastOldStart, seenVia: via } = await observed;
      writeLatency.push((t1 - t0) * 1000);
      seenVia[via]++;
      seenAfterStart.push((seen - offset - t0) * 1000);
      seenAfterResolve.push((seen - offset - t1) * 1000);
      // The rule: a read B started after A's write resolved never returns the old version.
      if (lastOldStart - offset > t1 + (bestRtt / 2)) staleAfterResolve++;
      if (received === 0 || applied === 0) {
        missedMessages++;
        continue;
      }
      receivedAfterResolve.push((received - offset - t1) * 1000);
      appliedAfterStart.push((applied - offset - t0) * 1000);
      appliedAfterResolve.push((applied - offset - t1) * 1000);
      if (received - offset > t1) receivedLate++;
      if (applied - offset > t1) appliedLate++;
    }
    const statsAfterB = cached.$cache.stats();

    // ── report ───────────────────────────────────────────────────────────────────────────────
    const sizeTable = renderTable(
      [{ header: "instance (own namespace)" }, { header: "keys in Redis" }, { header: "median µs" }, { header: "p90 µs" }, { header: "p99 µs" }, { header: "median vs raw" }, { header: "p99 vs raw" }, { header: "samples" }],
      [
        ["  raw Prisma update by id (baseline)", "", micros(rawA!.median), micros(rawA!.p90), micros(rawA!.p99), "baseline", "baseline", String(rawA!.samples)],
        ...sizes.map(({ target, entries }, i) => {
          const ext = extA[i]!;
          return [
            `  via extension, ${target.toLocaleString("en-US")} User entries cached`,
            entries.toLocaleString("en-US"),
            micros(ext.median),
            micros(ext.p90),
            micros(ext.p99),
            versus(ext.median, rawA!.median),
            versus(ext.p99, rawA!.p99),
            String(ext.samples),
          ];
        }),
      ],
    );
    const flatness = extA[extA.length - 1]!.median / extA[0]!.median;
    const bumps = statsAfterA.reduce((sum, stats) => sum + stats.invalidationsSent, 0);
    const queuedA = statsAfterA.reduce((sum, stats) => sum + stats.invalidationsQueued, 0);

    const row = (name: string, s: Stats, baseline?: Stats): string[] => [
      `  ${name}`,
      signed(s.median),
      signed(s.p90),
      signed(s.p99),
      signed(s.max),
      baseline === undefined ? "" : versus(s.median, baseline.median),
      String(s.samples),
    ];
    const latency = summarize("", writeLatency);
    const rows: Row[] = [
      { section: "Write latency (A), sequential updates by id" },
      row("raw Prisma update", raw2!),
      row("via extension, 1 instance", solo2!, raw2),
      row("via extension, 2 instances (waits for B's ack)", ext2!, raw2),
      row("via extension, 2 instances, B polling the row every ~1 ms", latency, raw2),
      { rule: true },
      { section: "When B learns of A's write (B's clock mapped onto A's)" },
      row("B received the invalidation − A's write resolved", summarize("", receivedAfterResolve)),
      row("B had applied it (and acked) − A's write started", summarize("", appliedAfterStart)),
      row("B had applied it (and acked) − A's write resolved", summarize("", appliedAfterResolve)),
      row("B's polling read first saw the new version − write started", summarize("", seenAfterStart)),
      row("B's polling read first saw the new version − write resolved", summarize("", seenAfterResolve)),
    ];
    const latencyTable = renderTable(
      [{ header: "measure" }, { header: "median µs" }, { header: "p90 µs" }, { header: "p99 µs" }, { header: "max µs" }, { header: "median vs raw" }, { header: "samples" }],
      rows,
    );

    const out = [
      header("prisma-cache-shield — invalidation", {
        postgres: `${new URL(db.url).host} (scratch database ${db.name})`,
        redis: `${safeHost(redisUrl())}, namespace ${namespace}`,
        "B's clock": `offset ${signed(offset * 1000)} µs from A's, ± ${micros((bestRtt * 1000) / 2)} µs (half the best IPC round trip)`,
      }),
      "",
      "(a) One write (update by id) while N entries of the written model are cached in Redis",
      "",
      sizeTable,
      "",
      `  Entries: real findUnique reads for the first ${Math.min(REAL_READS_MAX, SIZES[SIZES.length - 1]!).toLocaleString("en-US")}; beyond that, copies of a real findMany entry under the keys distinct findMany reads derive.`,
      `  Fill time: ${sizes.map((r) => `${r.target.toLocaleString("en-US")}: ${(r.fillMs / 1000).toFixed(1)} s`).join(", ")}; Redis used_memory after filling: ${memory}.`,
      `  The four cases run interleaved in 20 rounds; each instance writes the same 10 users in turn and waits only for its own acknowledgement.`,
      `  A write bumps the written record's tags and the model generation (${bumps.toLocaleString("en-US")} bumps, ${queuedA} queued) and never looks at entries:`,
      `  the median at 100,000 entries is ${flatness.toFixed(2)}× the one at 10.`,
      "",
      "(b) Cross-instance invalidation: B (a second process) holds the user in L1, A updates it",
      "",
      latencyTable,
      "",
      `  ${iterations} writes; before each, B read the user twice (${iterations - notInL1} of ${iterations} second reads were L1 hits) and then polled it every ~1 ms (setTimeout 0).`,
      `  B received the invalidation after A's write had resolved: ${receivedLate} of ${iterations - missedMessages} (the acknowledgement wait makes this 0, within the clock error);`,
      `  B's listener after the extension's ran after A resolved: ${appliedLate} (B acks from inside its handler, so A can resolve a few µs before that listener runs)${missedMessages > 0 ? `; ${missedMessages} messages not seen by the listeners` : ""}.`,
      `  B's reads that started after A's write resolved and returned the old version: ${staleAfterResolve} of ${iterations} writes (must be 0).`,
      `  B's first read showing the new version came from: L1 ${seenVia.l1}, L2 ${seenVia.l2}, database ${seenVia.db}. Negative times: before A's write resolved.`,
      `  A's counters: ${statsAfterB.invalidationsSent.toLocaleString("en-US")} invalidations sent, ${statsAfterB.invalidationAckTimeouts} ack timeouts, ${statsAfterB.invalidationsQueued} queued (Redis did not take them).`,
      ...(absorbed.length > 0 || statsAfterB.invalidationsQueued > 0 || queuedA > 0
        ? [`  WARNING: the extension absorbed ${absorbed.length} errors (first: ${absorbed[0] ?? "–"}); the numbers above are not clean.`]
        : []),
      "",
      `total run time ${((performance.now() - started) / 1000).toFixed(1)} s`,
    ];
    console.log(out.join("\n"));
  } finally {
    await cleanup.run();
  }
}

/** Entry stores are fire-and-forget: wait until `count` keys have landed. */
async function waitForEntries(count: () => Promise<number>, expected: number): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    if ((await count()) >= expected) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`expected ${expected} entries in Redis, found ${await count()}`);
}

const findManyArgs = (from: number) => ({ where: { id: { gte: from } }, orderBy: { id: "asc" as const }, take: 5 });

/** The key a `user.findMany(findManyArgs(from))` read is stored under: the extension's own derivation. */
function findManyKey(namespace: string, fingerprint: string, from: number): string {
  return deriveKey({ namespace, fingerprint }, "User", "findMany", canonicalize(findManyArgs(from), encodePrismaArgValue));
}

/** One real findMany entry (read through the extension) to copy, checking our key derivation matches its key. */
async function findManyTemplate(redis: Redis, namespace: string, from: number, findMany: (args: ReturnType<typeof findManyArgs>) => PromiseLike<unknown>) {
  const before = new Set(await keysInNamespace(redis, namespace));
  await findMany(findManyArgs(from));
  for (let attempt = 0; attempt < 500; attempt++) {
    const key = (await keysInNamespace(redis, namespace)).find((k) => !before.has(k) && k.includes(":User:findMany:"));
    if (key !== undefined) {
      const fingerprint = key.slice(namespace.length + 1).split(":")[0]!;
      if (findManyKey(namespace, fingerprint, from) !== key) throw new Error(`key derivation differs from the extension's: ${key}`);
      const [text, ttlMs] = await Promise.all([redis.get(key), redis.pttl(key)]);
      return { text: text!, ttlMs: Math.max(60_000, ttlMs), fingerprint };
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const added = (await keysInNamespace(redis, namespace)).filter((k) => !before.has(k));
  throw new Error(`the findMany read stored no entry; new keys: ${added.slice(0, 5).join(", ")}`);
}

/** Microseconds with a sign (a negative time is "before"). */
function signed(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return value < 0 ? `−${micros(-value)}` : micros(value);
}


if (process.env.PCS_BENCH_ROLE === "peer") {
  await peer();
} else {
  await main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
