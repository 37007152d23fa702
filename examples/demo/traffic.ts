// Concurrent read traffic with a popular head and a long tail, the shape in which a read cache
// pays off. The plan is drawn once from a fixed seed so both runs replay identical requests.

export const WORKERS = 20;
export const REQUESTS_PER_WORKER = 250;

type Operation = "user.findUnique" | "post.findMany" | "post.count";

interface Request {
  operation: Operation;
  userId: number;
}

export type Plan = Request[][];

/** The subset of a (plain or extended) Prisma client that the traffic touches. */
export interface Reader {
  user: { findUnique(args: { where: { id: number } }): PromiseLike<unknown> };
  post: {
    findMany(args: { where: { authorId: number; published: boolean }; orderBy: { id: "asc" } }): PromiseLike<unknown>;
    count(args: { where: { authorId: number } }): PromiseLike<unknown>;
  };
}

export interface RunResult {
  requests: number;
  wallMs: number;
  /** Per-request latencies in milliseconds, sorted ascending. */
  latencies: number[];
}

export function planTraffic(userIds: readonly number[]): Plan {
  const random = mulberry32(42);
  const pickUser = zipf(userIds, random);
  return Array.from({ length: WORKERS }, () =>
    Array.from({ length: REQUESTS_PER_WORKER }, () => ({ operation: pickOperation(random()), userId: pickUser() })),
  );
}

export async function runTraffic(db: Reader, plan: Plan): Promise<RunResult> {
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    plan.map(async (requests) => {
      for (const request of requests) {
        const t0 = performance.now();
        await send(db, request);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { requests: latencies.length, wallMs: performance.now() - started, latencies: latencies.sort((a, b) => a - b) };
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}

function send(db: Reader, { operation, userId }: Request): PromiseLike<unknown> {
  switch (operation) {
    case "user.findUnique":
      return db.user.findUnique({ where: { id: userId } });
    case "post.findMany":
      return db.post.findMany({ where: { authorId: userId, published: true }, orderBy: { id: "asc" } });
    case "post.count":
      return db.post.count({ where: { authorId: userId } });
  }
}

/** 60% profile lookups, 30% post listings, 10% counts. */
function pickOperation(r: number): Operation {
  if (r < 0.6) return "user.findUnique";
  return r < 0.9 ? "post.findMany" : "post.count";
}

/** Zipf(s = 1) over the ids: the 10% most popular users draw about 60% of the requests. */
function zipf(ids: readonly number[], random: () => number): () => number {
  const cumulative: number[] = [];
  let total = 0;
  for (let rank = 1; rank <= ids.length; rank++) cumulative.push((total += 1 / rank));
  return () => {
    const target = random() * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (cumulative[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return ids[low]!;
  };
}

/** A tiny seeded PRNG, so every run draws the same plan. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
