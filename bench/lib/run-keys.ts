// Finding and deleting every Redis key a benchmark run wrote. A run's namespaces all start with
// one prefix; the cache writes under three shapes of key:
//   <ns>:…            entries, locks, fleet-lock and warm-up keys, query statistics
//   {<ns>}:…          versions, sequence, Bloom filters (a Redis Cluster hash tag)
//   {r<n>:<hash>}<ns>:…   hot-key replicas (one hash tag per replica)
import type { Redis } from "ioredis";

/** The SCAN patterns that cover every key under namespaces starting with `prefix`. */
export function runKeyPatterns(prefix: string): string[] {
  return [`${prefix}*`, `{${prefix}*`, `{r*}${prefix}*`];
}

/** Keys matching a SCAN pattern (never blocks Redis like KEYS would). */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return keys;
}

/** Every key of the run, deduplicated. */
export async function runKeys(redis: Redis, prefix: string): Promise<string[]> {
  const keys = new Set<string>();
  for (const pattern of runKeyPatterns(prefix)) for (const key of await scanKeys(redis, pattern)) keys.add(key);
  return [...keys];
}

/** Deletes every key of the run; returns how many there were. */
export async function deleteRunKeys(redis: Redis, prefix: string): Promise<number> {
  const keys = await runKeys(redis, prefix);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  return keys.length;
}

/** Waits until `count` clients subscribe to a namespace's invalidation channel (each instance's bus is live). */
export async function waitForSubscribers(redis: Redis, namespace: string, count: number, timeoutMs = 10_000): Promise<void> {
  const channel = `{${namespace}}:events`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [, subscribers] = (await redis.pubsub("NUMSUB", channel)) as [string, number];
    if (Number(subscribers) >= count) return;
    if (Date.now() > deadline) throw new Error(`${channel}: ${subscribers} subscribers after ${timeoutMs} ms, expected ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
