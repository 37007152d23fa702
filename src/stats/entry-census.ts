import { settleWithin } from "../core/settle-within.js";
import { RedisTimeoutError } from "../stores/redis-store.js";
import type { RedisLike } from "../types.js";

type Scanner = { scan(cursor: string, ...args: Array<string | number>): Promise<[string, string[]]> };

/** Stop counting past this many keys: the CLI's census must not walk a huge keyspace for minutes. */
const MAX_SCANNED = 5_000_000;

/**
 * Stored entries per model under the current schema, counted with SCAN (never KEYS, which would
 * block Redis). Entries are `<namespace>:<fingerprint>[.<client>]:<model>:<operation>:<args>` (every client's); fleet locks
 * end in `:lock` and are left out. Invalidated entries still count until their TTL removes them.
 * Undefined on a Cluster (one SCAN per node would be needed) or a client without SCAN. Each page
 * is bounded by `pageTimeoutMs`: the cache's connection does not resend a command its dropped
 * socket left unanswered, so an unbounded SCAN could wait forever.
 */
export async function countEntries(redis: RedisLike, namespace: string, fingerprint: string, pageTimeoutMs: number): Promise<Record<string, number> | undefined> {
  const scanner = redis as unknown as Partial<Scanner>;
  if (redis.isCluster === true || typeof scanner.scan !== "function") return undefined;
  const prefix = `${namespace}:${fingerprint}`;
  const counts: Record<string, number> = {};
  let cursor = "0";
  let scanned = 0;
  do {
    const page = (scanner as Scanner).scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (!(await settleWithin(page, pageTimeoutMs))) throw new RedisTimeoutError("SCAN", pageTimeoutMs);
    const [next, keys] = await page;
    for (const key of keys) {
      if (key.endsWith(":lock")) continue;
      const start = key.indexOf(":", prefix.length) + 1;
      const model = key.slice(start, key.indexOf(":", start));
      counts[model] = (counts[model] ?? 0) + 1;
    }
    scanned += keys.length;
    cursor = next;
  } while (cursor !== "0" && scanned < MAX_SCANNED);
  return counts;
}
