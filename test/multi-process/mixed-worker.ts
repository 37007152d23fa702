// One app instance of the oracle test (oracle.test.ts): its own PrismaClient, pool and extension,
// sharing one Redis namespace with the other workers. For DURATION_MS it runs LOOPS concurrent
// loops of random reads and writes (WRITE_RATIO, default 0.3) on the seeded users and posts, and
// on until it has run MIN_OPS operations (at most 4 × DURATION_MS in all).
// Other knobs (environment): SUB_DELAY_MS (a slow subscription link), ACK_TIMEOUT, CACHE_TTL,
// WRITE_THROUGH=base (writes around the extension: the negative control).
//
// The oracle is a separate, plain ioredis connection (keys under ORACLE:, never the cache's):
//   u:<id> / p:<id>   the highest committed `version` of a user / post that a resolved write is
//                     known to have produced (a max-only Lua set), recorded right after the write
//                     resolves and before the loop moves on. `<key>:m` says who wrote it, when.
//   e:<postId>        lifecycle of a post created by a worker: 1 created, 2 delete started, 3 deleted.
//   eph:<authorId>    the posts workers created for that author (set), and eph:all for every one.
//   hist:<authorId>   user version → number of the author's posts, for every write that changed
//                     the author's posts (each locks the user row and bumps its version in the same
//                     transaction, so the pair is exact); field 0 is the seed (3 posts).
// Before each read the loop fetches the known minimums; after it, it checks what the read returned
// against them: a result older than a write that resolved before the read started is a stale read.
// Counts are not monotonic, so they are checked at the end, once every worker has stopped writing
// and hist is complete: the count read must be the count of some state at or after the minimum.
//
// Prints one JSON line: reads, writes, stale reads (with the first details), errors, cache stats.
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import { PrismaClient } from "../../prisma/generated/client.ts";
import { cacheExtension } from "../../src/index.ts";
import { CountingPool } from "../helpers/counting-pool.ts";
import { seededRandom } from "../helpers/random.ts";
import { delayingProxy } from "../helpers/delaying-proxy.ts";
import { requiredEnv } from "../helpers/worker-env.ts";
import { machineNow } from "../helpers/machine-clock.ts";
import { routeCacheConnections } from "../helpers/connection-routes.ts";

export interface SeededUser {
  id: number;
  email: string;
  /** The three seeded posts: never deleted, so always present. */
  posts: number[];
}

export interface StaleRead {
  worker: number;
  loop: number;
  op: string;
  /** What was checked, e.g. "User 12 version" or "Post 40 present". */
  what: string;
  expected: string;
  got: string;
  /** Wall-clock milliseconds (shared by the processes on this machine). */
  readStartedAt: number;
  readEndedAt: number;
  /** Counter deltas of this process during the read; exact only when `exclusive` (no other read overlapped). */
  served: { l1Hits: number; l2Hits: number; dbLoads: number; exclusive: boolean };
  /** Who recorded the minimum that was violated, and when its write resolved. */
  oracle: string | null;
}

export interface WorkerReport {
  worker: number;
  reads: number;
  writes: number;
  readsByOp: Record<string, number>;
  writesByOp: Record<string, number>;
  /** Writes that failed (deadlocks, conflicts): not recorded in the oracle. */
  writeErrors: Record<string, number>;
  readErrors: number;
  errorSamples: string[];
  countChecks: number;
  staleReads: number;
  stale: StaleRead[];
  queries: number;
  stats: {
    hits: number;
    l1Hits: number;
    l2Hits: number;
    misses: number;
    dbLoads: number;
    coalesced: number;
    fencedStores: number;
    negativeHits: number;
    invalidationsSent: number;
    invalidationsReceived: number;
    invalidationAckTimeouts: number;
    invalidationsQueued: number;
    redisErrors: number;
    redisTimeouts: number;
    bypasses: Record<string, number>;
  };
  /** Write latency through the extension, including the wait for acknowledgements (ms). */
  writeLatencyMs: { p50: number; p99: number; max: number };
  /** Milliseconds since the process started at which each phase ended. */
  phases: Record<string, number>;
}

const env = requiredEnv("mixed-worker");

const WORKER = Number(env("WORKER"));
const WORKERS = Number(env("WORKERS"));
const LOOPS = Number(process.env.LOOPS ?? 2);
const DURATION_MS = Number(env("DURATION_MS"));
const ORACLE = env("ORACLE");
const USERS = JSON.parse(env("USERS")) as SeededUser[];
const SEED = Number(process.env.SEED ?? 1);
/** Share of operations that are writes. */
const WRITE_RATIO = Number(process.env.WRITE_RATIO ?? 0.3);
/** Operations (all loops together) to run even if DURATION_MS has passed, up to 4 × DURATION_MS: a loaded machine still tests something. */
const MIN_OPS = Number(process.env.MIN_OPS ?? 0);
const MAX_STALE_DETAILS = 5;

const now = machineNow;
const pool = new CountingPool({ connectionString: env("DATABASE_URL"), max: 4 });
const redis = new Redis(env("REDIS_URL"), { maxRetriesPerRequest: 1 });
// SUB_DELAY_MS: this instance's invalidation subscription sits behind a slow link (every byte from
// Redis arrives that much later) while its commands stay fast, as with a congested connection.
// Its L1 then learns of other instances' writes late, which only the acknowledgement wait covers.
const SUB_DELAY_MS = Number(process.env.SUB_DELAY_MS ?? 0);
const proxy = SUB_DELAY_MS > 0 ? await delayingProxy(env("REDIS_URL"), SUB_DELAY_MS) : undefined;
if (proxy !== undefined) routeCacheConnections(redis, { subscriber: { host: "127.0.0.1", port: proxy.port } });
const oracle = new Redis(env("REDIS_URL"), { maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg(pool) });
// A generous ack timeout by default: a write that resolves on timeout may legitimately be seen
// stale elsewhere (documented), and a loaded 2-core machine must not turn that into a false
// failure. Timeouts are still counted and reported. ACK_TIMEOUT overrides it, CACHE_TTL sets the
// ttl option (both for experiments; the children inherit the test process's environment).
const cached = base.$extends(
  cacheExtension({
    redis,
    namespace: env("NAMESPACE"),
    ackTimeout: Number(process.env.ACK_TIMEOUT ?? 5_000),
    ...(process.env.CACHE_TTL === undefined ? {} : { ttl: Number(process.env.CACHE_TTL) }),
    models: { User: true, Post: true, Tag: true, Comment: true },
  }),
);
// WRITE_THROUGH=base sends the writes around the extension: nothing is invalidated, so the oracle
// must report stale reads (the negative control of oracle.test.ts).
const writer = process.env.WRITE_THROUGH === "base" ? (base as unknown as typeof cached) : cached;
const prisma = cached;

const postAuthor = new Map<number, number>();
for (const user of USERS) for (const post of user.posts) postAuthor.set(post, user.id);
const permanentPosts = [...postAuthor.keys()];

// ── oracle ──────────────────────────────────────────────────────────────────────────────────

/** KEYS: version keys; ARGV: version, meta per key. Sets each key only if the version is higher. */
const MAX_SET = `
for i = 1, #KEYS do
  local v = tonumber(ARGV[2 * i - 1])
  local cur = tonumber(redis.call('GET', KEYS[i]) or '-1')
  if v > cur then
    redis.call('SET', KEYS[i], ARGV[2 * i - 1])
    redis.call('SET', KEYS[i] .. ':m', ARGV[2 * i])
  end
end
return 1
`;

const uKey = (id: number) => `${ORACLE}:u:${id}`;
const pKey = (id: number) => `${ORACLE}:p:${id}`;
const eKey = (id: number) => `${ORACLE}:e:${id}`;
const ephKey = (authorId: number) => `${ORACLE}:eph:${authorId}`;
const histKey = (authorId: number) => `${ORACLE}:hist:${authorId}`;

type Pending = Array<[key: string, version: number]>;

/** Records versions committed by a write that has resolved; `extra` joins the same MULTI. */
async function record(entries: Pending, meta: string, extra?: (multi: ReturnType<Redis["multi"]>) => void): Promise<void> {
  const multi = oracle.multi();
  if (entries.length > 0) {
    const args: string[] = [];
    const stamped = `${meta}, resolved at ${now().toFixed(1)}`;
    for (const [, version] of entries) args.push(String(version), stamped);
    multi.eval(MAX_SET, entries.length, ...entries.map(([key]) => key), ...args);
  }
  extra?.(multi);
  const results = await multi.exec();
  for (const [error] of results ?? []) if (error) throw error;
}

/** Minimum versions for `keys` (absent: 0, the seed value), read before a read starts. */
async function minimums(keys: string[]): Promise<number[]> {
  if (keys.length === 0) return [];
  const values = await oracle.mget(...keys);
  return values.map((value) => (value === null ? 0 : Number(value)));
}

// ── bookkeeping ─────────────────────────────────────────────────────────────────────────────

const report = {
  reads: 0,
  writes: 0,
  readsByOp: {} as Record<string, number>,
  writesByOp: {} as Record<string, number>,
  writeErrors: {} as Record<string, number>,
  readErrors: 0,
  errorSamples: [] as string[],
  countChecks: 0,
  staleReads: 0,
  stale: [] as StaleRead[],
};
const writeLatencies: number[] = [];
const bump = (map: Record<string, number>, key: string) => (map[key] = (map[key] ?? 0) + 1);

/** Count reads, checked at the end against the complete history. */
const countObservations: Array<{ loop: number; authorId: number; min: number; count: number; startedAt: number; endedAt: number; served: StaleRead["served"] }> = [];

/** Posts this worker created and has not deleted yet (only the creator deletes them). */
const alive: Array<{ id: number; authorId: number }> = [];

let readsInFlight = 0;
let readsStarted = 0;

interface ReadContext {
  loop: number;
  op: string;
  startedAt: number;
  endedAt: number;
  served: StaleRead["served"];
  failures: Array<{ what: string; expected: string; got: string; oracleKey: string | null }>;
}

/** Runs one cached read, noting which tier served it (exact only if no other read overlapped). */
async function timedRead<T>(loop: number, op: string, read: () => PromiseLike<T>): Promise<{ value: T; ctx: ReadContext }> {
  const before = prisma.$cache.stats();
  const exclusiveAtStart = readsInFlight === 0;
  const startedSeq = ++readsStarted;
  readsInFlight++;
  const startedAt = now();
  try {
    const value = await read();
    const endedAt = now();
    const after = prisma.$cache.stats();
    const served = {
      l1Hits: after.l1Hits - before.l1Hits,
      l2Hits: after.l2Hits - before.l2Hits,
      dbLoads: after.dbLoads - before.dbLoads,
      exclusive: exclusiveAtStart && readsStarted === startedSeq,
    };
    return { value, ctx: { loop, op, startedAt, endedAt, served, failures: [] } };
  } finally {
    readsInFlight--;
  }
}

async function finish(ctx: ReadContext, alreadyCounted = false): Promise<void> {
  if (!alreadyCounted) {
    report.reads++;
    bump(report.readsByOp, ctx.op);
  }
  for (const failure of ctx.failures) {
    report.staleReads++;
    if (report.stale.length >= MAX_STALE_DETAILS) continue;
    const meta = failure.oracleKey === null ? null : await oracle.get(`${failure.oracleKey}:m`);
    report.stale.push({
      worker: WORKER,
      loop: ctx.loop,
      op: ctx.op,
      what: failure.what,
      expected: failure.expected,
      got: failure.got,
      readStartedAt: ctx.startedAt,
      readEndedAt: ctx.endedAt,
      served: ctx.served,
      oracle: meta,
    });
  }
}

function atLeast(ctx: ReadContext, what: string, min: number, got: number | null | undefined, oracleKey: string | null): void {
  if (got === null || got === undefined || got < min) ctx.failures.push({ what, expected: `>= ${min}`, got: String(got), oracleKey });
}

// ── reads ───────────────────────────────────────────────────────────────────────────────────

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** The state of every post workers created for `authorId`: ids, lifecycle and minimum versions. */
async function ephemeralSnapshot(authorId: number): Promise<Array<{ id: number; state: number; min: number }>> {
  const ids = (await oracle.smembers(ephKey(authorId))).map(Number);
  if (ids.length === 0) return [];
  const values = await oracle.mget(...ids.map(eKey), ...ids.map(pKey));
  return ids.map((id, i) => ({ id, state: Number(values[i] ?? 0), min: Number(values[ids.length + i] ?? 0) }));
}

/** Checks a list of an author's posts: seeded ones present and fresh, created/deleted ones consistent. */
async function checkPostList(
  ctx: ReadContext,
  user: SeededUser,
  posts: ReadonlyArray<{ id: number; version: number }>,
  permanentMins: readonly number[],
  ephemeral: ReadonlyArray<{ id: number; state: number; min: number }>,
): Promise<void> {
  const byId = new Map(posts.map((post) => [post.id, post]));
  user.posts.forEach((id, i) => atLeast(ctx, `Post ${id} version (listed under User ${user.id})`, permanentMins[i]!, byId.get(id)?.version ?? null, pKey(id)));
  for (const post of ephemeral) {
    const found = byId.get(post.id);
    if (post.state === 3 && found !== undefined) {
      ctx.failures.push({ what: `Post ${post.id} listed under User ${user.id} after its delete resolved`, expected: "absent", got: "present", oracleKey: eKey(post.id) });
    } else if (post.state === 1 && found === undefined) {
      // Absent is fine if its delete started meanwhile; if not, the delete began after the read ended.
      const stateAfter = Number((await oracle.get(eKey(post.id))) ?? 0);
      if (stateAfter === 1) ctx.failures.push({ what: `Post ${post.id} missing under User ${user.id} after its create resolved`, expected: "present", got: "absent", oracleKey: eKey(post.id) });
    } else if (found !== undefined) {
      atLeast(ctx, `Post ${post.id} version (listed under User ${user.id})`, post.min, found.version, pKey(post.id));
    }
  }
}

const READS: Array<[string, (loop: number, random: Random) => Promise<void>]> = [
  [
    "user.findUnique by id",
    async (loop, random) => {
      const user = pick(random, USERS);
      const [min] = await minimums([uKey(user.id)]);
      const { value, ctx } = await timedRead(loop, "user.findUnique by id", () => prisma.user.findUnique({ where: { id: user.id } }));
      atLeast(ctx, `User ${user.id} version`, min!, value?.version, uKey(user.id));
      await finish(ctx);
    },
  ],
  [
    "user.findUnique by email",
    async (loop, random) => {
      const user = pick(random, USERS);
      const [min] = await minimums([uKey(user.id)]);
      const { value, ctx } = await timedRead(loop, "user.findUnique by email", () => prisma.user.findUnique({ where: { email: user.email } }));
      atLeast(ctx, `User ${user.id} version`, min!, value?.version, uKey(user.id));
      await finish(ctx);
    },
  ],
  [
    "post.findUnique by id",
    async (loop, random) => {
      const roll = random();
      if (roll < 0.6) {
        const id = pick(random, permanentPosts);
        const [min] = await minimums([pKey(id)]);
        const { value, ctx } = await timedRead(loop, "post.findUnique by id", () => prisma.post.findUnique({ where: { id } }));
        atLeast(ctx, `Post ${id} version`, min!, value?.version, pKey(id));
        return finish(ctx);
      }
      if (roll < 0.9) {
        const member = await oracle.srandmember(`${ORACLE}:eph:all`);
        if (member === null) return;
        const id = Number(member);
        const [state, min] = await minimums([eKey(id), pKey(id)]);
        const { value, ctx } = await timedRead(loop, "post.findUnique by id", () => prisma.post.findUnique({ where: { id } }));
        if (state === 3 && value !== null) {
          ctx.failures.push({ what: `Post ${id} found after its delete resolved`, expected: "null", got: `version ${value.version}`, oracleKey: eKey(id) });
        } else if (state === 1 && value === null) {
          const stateAfter = Number((await oracle.get(eKey(id))) ?? 0);
          if (stateAfter === 1) ctx.failures.push({ what: `Post ${id} not found after its create resolved`, expected: "a post", got: "null", oracleKey: eKey(id) });
        } else if (value !== null) {
          atLeast(ctx, `Post ${id} version`, min!, value.version, pKey(id));
        }
        return finish(ctx);
      }
      // Probe ids that do not exist yet: caches "not found", which a later create must invalidate.
      const top = Number((await oracle.get(`${ORACLE}:maxpost`)) ?? Math.max(...permanentPosts));
      const id = top + 1 + Math.floor(random() * 3);
      const { ctx } = await timedRead(loop, "post.findUnique future id", () => prisma.post.findUnique({ where: { id } }));
      return finish(ctx);
    },
  ],
  [
    "post.findMany of a user",
    async (loop, random) => {
      const user = pick(random, USERS);
      const ephemeral = await ephemeralSnapshot(user.id);
      const mins = await minimums(user.posts.map(pKey));
      const { value, ctx } = await timedRead(loop, "post.findMany of a user", () => prisma.post.findMany({ where: { authorId: user.id }, orderBy: { id: "asc" } }));
      await checkPostList(ctx, user, value, mins, ephemeral);
      await finish(ctx);
    },
  ],
  [
    "user.findUnique include posts",
    async (loop, random) => {
      const user = pick(random, USERS);
      const ephemeral = await ephemeralSnapshot(user.id);
      const [userMin, ...mins] = await minimums([uKey(user.id), ...user.posts.map(pKey)]);
      const { value, ctx } = await timedRead(loop, "user.findUnique include posts", () =>
        prisma.user.findUnique({ where: { id: user.id }, include: { posts: { orderBy: { id: "asc" } } } }),
      );
      atLeast(ctx, `User ${user.id} version (with posts)`, userMin!, value?.version, uKey(user.id));
      await checkPostList(ctx, user, value?.posts ?? [], mins, ephemeral);
      await finish(ctx);
    },
  ],
  [
    "post.count of a user",
    async (loop, random) => {
      const user = pick(random, USERS);
      const [min] = await minimums([uKey(user.id)]);
      const { value, ctx } = await timedRead(loop, "post.count of a user", () => prisma.post.count({ where: { authorId: user.id } }));
      countObservations.push({ loop, authorId: user.id, min: min!, count: value, startedAt: ctx.startedAt, endedAt: ctx.endedAt, served: ctx.served });
      await finish(ctx);
    },
  ],
  [
    "post.aggregate of a user's seeded posts",
    async (loop, random) => {
      // Seeded posts are never deleted and their versions only grow, so each aggregate is bounded below.
      const user = pick(random, USERS);
      const mins = await minimums(user.posts.map(pKey));
      const { value, ctx } = await timedRead(loop, "post.aggregate", () =>
        prisma.post.aggregate({ where: { authorId: user.id, slug: { startsWith: "seed-" } }, _count: { _all: true }, _sum: { version: true }, _min: { version: true }, _max: { version: true } }),
      );
      if (value._count._all !== user.posts.length) ctx.failures.push({ what: `aggregate _count of User ${user.id}'s seeded posts`, expected: String(user.posts.length), got: String(value._count._all), oracleKey: null });
      const sum = mins.reduce((a, b) => a + b, 0);
      atLeast(ctx, `aggregate _sum.version of User ${user.id}'s seeded posts`, sum, value._sum.version, null);
      atLeast(ctx, `aggregate _max.version of User ${user.id}'s seeded posts`, Math.max(...mins), value._max.version, null);
      atLeast(ctx, `aggregate _min.version of User ${user.id}'s seeded posts`, Math.min(...mins), value._min.version, null);
      await finish(ctx);
    },
  ],
];

// ── writes ──────────────────────────────────────────────────────────────────────────────────

const tag = () => randomUUID().slice(0, 8);

/** Versions of an author's posts read from the database (uncached) before a write that increments them all: lower bounds. */
async function postVersionsBefore(authorId: number): Promise<Pending> {
  const rows = await base.post.findMany({ where: { authorId }, select: { id: true, version: true } });
  return rows.map((row) => [pKey(row.id), row.version + 1]);
}

async function createPost(meta: string, random: Random, authorId: number): Promise<void> {
  const slug = `tmp-${tag()}`;
  let userVersion: number;
  let postId: number;
  let count: number;
  if (random() < 0.5) {
    // Interactive transaction: lock the author, create, count (the lock serializes post-set changes).
    ({ userVersion, postId, count } = await writer.$transaction(async (tx) => {
      const user = await tx.user.update({ where: { id: authorId }, data: { version: { increment: 1 } } });
      const post = await tx.post.create({ data: { authorId, slug, title: "created" } });
      return { userVersion: user.version, postId: post.id, count: await tx.post.count({ where: { authorId } }) };
    }));
  } else {
    // Nested write: one statement set in one transaction, the count read at its end.
    const user = await writer.user.update({
      where: { id: authorId },
      data: { version: { increment: 1 }, posts: { create: { slug, title: "created nested" } } },
      include: { posts: { where: { slug }, select: { id: true } }, _count: { select: { posts: true } } },
    });
    userVersion = user.version;
    postId = user.posts[0]!.id;
    count = user._count.posts;
  }
  await record([[uKey(authorId), userVersion], [pKey(postId), 0], [eKey(postId), 1], [`${ORACLE}:maxpost`, postId]], meta, (multi) => {
    multi.hset(histKey(authorId), String(userVersion), String(count));
    multi.sadd(ephKey(authorId), String(postId));
    multi.sadd(`${ORACLE}:eph:all`, String(postId));
  });
  alive.push({ id: postId, authorId });
}

async function deletePost(meta: string, random: Random, post: { id: number; authorId: number }): Promise<void> {
  const { id, authorId } = post;
  // Marked before the delete can commit: a reader that sees 1 after its read knows the row was there.
  await record([[eKey(id), 2]], `${meta} (started)`);
  let userVersion: number;
  let count: number;
  try {
    if (random() < 0.5) {
      ({ userVersion, count } = await writer.$transaction(async (tx) => {
        const user = await tx.user.update({ where: { id: authorId }, data: { version: { increment: 1 } } });
        await tx.post.delete({ where: { id } });
        return { userVersion: user.version, count: await tx.post.count({ where: { authorId } }) };
      }));
    } else {
      const user = await writer.user.update({
        where: { id: authorId },
        data: { version: { increment: 1 }, posts: { delete: { id } } },
        include: { _count: { select: { posts: true } } },
      });
      userVersion = user.version;
      count = user._count.posts;
    }
  } catch (error) {
    alive.push(post); // rolled back: still there, delete it later
    throw error;
  }
  await record([[uKey(authorId), userVersion], [eKey(id), 3]], meta, (multi) => multi.hset(histKey(authorId), String(userVersion), String(count)));
}

const WRITES: Array<[string, number, (meta: string, random: Random) => Promise<void>]> = [
  [
    "user.update",
    20,
    async (meta, random) => {
      const user = pick(random, USERS);
      const updated = await writer.user.update({ where: { id: user.id }, data: { version: { increment: 1 }, name: `name ${tag()}` } });
      await record([[uKey(user.id), updated.version]], meta);
    },
  ],
  [
    "user.upsert",
    5,
    async (meta, random) => {
      const user = pick(random, USERS);
      const updated = await writer.user.upsert({ where: { email: user.email }, update: { version: { increment: 1 } }, create: { email: user.email } });
      await record([[uKey(user.id), updated.version]], meta);
    },
  ],
  [
    "post.update",
    20,
    async (meta, random) => {
      const own = alive.length > 0 && random() < 0.2 ? pick(random, alive) : undefined;
      const id = own?.id ?? pick(random, permanentPosts);
      const updated = await writer.post.update({ where: { id }, data: { title: `title ${tag()}`, version: { increment: 1 } } });
      await record([[pKey(id), updated.version]], meta);
    },
  ],
  [
    "post.create",
    12,
    async (meta, random) => createPost(meta, random, pick(random, USERS).id),
  ],
  [
    "post.delete",
    10,
    async (meta, random) => {
      // Only the creating worker deletes a post, one loop at a time.
      if (alive.length === 0) return createPost(meta, random, pick(random, USERS).id);
      const [post] = alive.splice(Math.floor(random() * alive.length), 1);
      return deletePost(meta, random, post!);
    },
  ],
  [
    "post.updateMany",
    10,
    async (meta, random) => {
      const user = pick(random, USERS);
      const bounds = await postVersionsBefore(user.id);
      await writer.post.updateMany({ where: { authorId: user.id }, data: { version: { increment: 1 } } });
      await record(bounds, meta);
    },
  ],
  [
    "nested user.update posts.updateMany",
    10,
    async (meta, random) => {
      const user = pick(random, USERS);
      const bounds = await postVersionsBefore(user.id);
      const updated = await writer.user.update({ where: { id: user.id }, data: { version: { increment: 1 }, posts: { updateMany: { where: {}, data: { version: { increment: 1 } } } } } });
      await record([[uKey(user.id), updated.version], ...bounds], meta);
    },
  ],
  [
    "interactive $transaction",
    8,
    async (meta, random) => {
      // Users before posts, as every other write locks them: no lock-order deadlock.
      const user = pick(random, USERS);
      const postId = pick(random, permanentPosts);
      const [u, p] = await writer.$transaction(async (tx) => [
        await tx.user.update({ where: { id: user.id }, data: { version: { increment: 1 }, name: `tx ${tag()}` } }),
        await tx.post.update({ where: { id: postId }, data: { version: { increment: 1 }, title: `tx ${tag()}` } }),
      ]);
      await record([[uKey(user.id), u.version], [pKey(postId), p.version]], meta);
    },
  ],
  [
    "batch $transaction",
    3,
    async (meta, random) => {
      const user = pick(random, USERS);
      const postId = pick(random, permanentPosts);
      const [u, p] = await writer.$transaction([
        writer.user.update({ where: { id: user.id }, data: { version: { increment: 1 } } }),
        writer.post.update({ where: { id: postId }, data: { version: { increment: 1 } } }),
      ]);
      await record([[uKey(user.id), u.version], [pKey(postId), p.version]], meta);
    },
  ],
  [
    "$queryRaw UPDATE … RETURNING",
    2,
    async (meta, random) => {
      // Raw SQL: the extension cannot see what it touched and invalidates every model.
      const postId = pick(random, permanentPosts);
      const rows = await writer.$queryRaw<Array<{ version: number }>>`UPDATE "Post" SET version = version + 1 WHERE id = ${postId} RETURNING version`;
      await record([[pKey(postId), rows[0]!.version]], meta);
    },
  ],
];
const WRITE_WEIGHT = WRITES.reduce((sum, [, weight]) => sum + weight, 0);

function pickWrite(random: Random): [string, (meta: string, random: Random) => Promise<void>] {
  let roll = random() * WRITE_WEIGHT;
  for (const [name, weight, run] of WRITES) {
    roll -= weight;
    if (roll < 0) return [name, run];
  }
  const [name, , run] = WRITES[0]!;
  return [name, run];
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string") return code;
  const message = String((error as Error)?.message ?? error);
  if (/deadlock/i.test(message)) return "deadlock";
  return message.split("\n").find((line) => line.trim() !== "")?.slice(0, 80) ?? "unknown";
}

// ── main ────────────────────────────────────────────────────────────────────────────────────

let operations = 0;

async function runLoop(loop: number, deadline: number, hardDeadline: number): Promise<void> {
  const random = seededRandom(SEED * 7919 + WORKER * 101 + loop);
  for (; now() < deadline || (operations < MIN_OPS && now() < hardDeadline); operations++) {
    if (random() >= WRITE_RATIO) {
      const [op, read] = pick(random, READS);
      try {
        await read(loop, random);
      } catch (error) {
        report.readErrors++;
        if (report.errorSamples.length < 5) report.errorSamples.push(`read ${op}: ${String((error as Error)?.stack ?? error)}`);
      }
    } else {
      const [op, write] = pickWrite(random);
      const started = now();
      try {
        await write(`worker ${WORKER} loop ${loop} ${op} started at ${started.toFixed(1)}`, random);
        writeLatencies.push(now() - started);
        report.writes++;
        bump(report.writesByOp, op);
      } catch (error) {
        bump(report.writeErrors, errorCode(error));
        if (report.errorSamples.length < 5 && !/deadlock|P2034|40001|40P01/i.test(String(error))) report.errorSamples.push(`write ${op}: ${String((error as Error)?.stack ?? error)}`);
      }
    }
  }
}

/** Once every worker has stopped writing, `hist` is complete: check each count read against it. */
async function checkCounts(): Promise<void> {
  const history = new Map<number, Array<[version: number, count: number]>>();
  for (const user of USERS) {
    const entries = Object.entries(await oracle.hgetall(histKey(user.id))).map(([v, c]) => [Number(v), Number(c)] as [number, number]);
    history.set(user.id, entries.sort((a, b) => a[0] - b[0]));
  }
  for (const observation of countObservations) {
    report.countChecks++;
    const entries = history.get(observation.authorId)!;
    // Legal: the count at the minimum version (the latest change at or before it), or after any later change.
    let atMin = 3;
    const later: number[] = [];
    for (const [version, count] of entries) {
      if (version <= observation.min) atMin = count;
      else later.push(count);
    }
    if (observation.count === atMin || later.includes(observation.count)) continue;
    const ctx: ReadContext = { loop: observation.loop, op: "post.count of a user", startedAt: observation.startedAt, endedAt: observation.endedAt, served: observation.served, failures: [] };
    ctx.failures.push({
      what: `post count of User ${observation.authorId} (user version >= ${observation.min})`,
      expected: `${atMin}${later.length > 0 ? ` or one of ${[...new Set(later)].join(",")}` : ""}`,
      got: String(observation.count),
      oracleKey: uKey(observation.authorId),
    });
    await finish(ctx, true);
  }
}

async function main(): Promise<void> {
  const phases: Record<string, number> = { imported: Math.round(performance.now()) };
  const mark = (phase: string) => (phases[phase] = Math.round(performance.now()));
  // Start together, once every worker's invalidation subscription is live (so every write is
  // acknowledged by all of them): the cache's events channel has one subscriber per worker.
  await prisma.user.findUnique({ where: { id: USERS[0]!.id } });
  const eventsChannel = `{${env("NAMESPACE")}}:events`;
  for (let i = 0; ; i++) {
    const [, subscribers] = (await oracle.pubsub("NUMSUB", eventsChannel)) as [string, number];
    if (Number(subscribers) >= WORKERS) break;
    if (i > 1500) throw new Error(`only ${subscribers} of ${WORKERS} workers subscribed`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  mark("allSubscribed");
  const deadline = now() + DURATION_MS;
  await Promise.all(Array.from({ length: LOOPS }, (_, loop) => runLoop(loop, deadline, deadline + 3 * DURATION_MS)));
  mark("loopsDone");

  await oracle.incr(`${ORACLE}:done`);
  for (let i = 0; Number(await oracle.get(`${ORACLE}:done`)) < WORKERS; i++) {
    if (i > 2000) throw new Error("the other workers did not finish");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  mark("allWorkersDone");
  await checkCounts();

  const stats = prisma.$cache.stats();
  await prisma.$cache.close();
  await base.$disconnect();
  // The pool is ours (PrismaPg does not end a pool it was given): idle clients would keep the process alive.
  await pool.end();
  redis.disconnect();
  oracle.disconnect();
  proxy?.close();
  mark("closed");
  const sorted = writeLatencies.sort((a, b) => a - b);
  const q = (p: number) => (sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 100) / 100);
  const result: WorkerReport = {
    worker: WORKER,
    ...report,
    queries: pool.queries,
    stats: {
      hits: stats.hits,
      l1Hits: stats.l1Hits,
      l2Hits: stats.l2Hits,
      misses: stats.misses,
      dbLoads: stats.dbLoads,
      coalesced: stats.coalesced,
      fencedStores: stats.fencedStores,
      negativeHits: stats.negativeHits,
      invalidationsSent: stats.invalidationsSent,
      invalidationsReceived: stats.invalidationsReceived,
      invalidationAckTimeouts: stats.invalidationAckTimeouts,
      invalidationsQueued: stats.invalidationsQueued,
      redisErrors: stats.redisErrors,
      redisTimeouts: stats.redisTimeouts,
      bypasses: stats.bypasses,
    },
    writeLatencyMs: { p50: q(0.5), p99: q(0.99), max: q(1) },
    phases,
  };
  console.log(JSON.stringify(result));
}

await main();
