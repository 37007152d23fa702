import type { Redis } from "ioredis";
import type { PrismaClient } from "../../prisma/generated/client.ts";
import type { RecordedQuery } from "../../src/index.ts";
import { seedUser } from "./seed.ts";

/**
 * Deletes the cache entries (and locks) of a namespace, keeping its versions and statistics,
 * which live under `{namespace}:`: a cold cache after a deploy, with the fleet's statistics intact.
 */
export async function deleteEntries(redis: Redis, namespace: string): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${namespace}:*`, "COUNT", 1000);
    if (keys.length > 0) deleted += await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  return deleted;
}

type Delegate = Record<string, (args: unknown) => Promise<unknown>>;

/** A query as application code issues it. */
export interface AppQuery {
  model: string;
  operation: string;
  args: Record<string, unknown> | undefined;
  cache?: RecordedQuery["cache"];
}

/** Runs a recorded query on a client, as application code would have. */
export function runRecorded(prisma: object, query: AppQuery): Promise<unknown> {
  const delegate = (prisma as Record<string, Delegate>)[query.model.charAt(0).toLowerCase() + query.model.slice(1)]!;
  return delegate[query.operation]!(query.cache === undefined ? query.args : { ...query.args, cache: query.cache });
}

/** Three query shapes per user: 3 × users distinct queries, each one SQL statement. */
export function queriesFor(userIds: readonly number[]): AppQuery[] {
  return userIds.flatMap((id): AppQuery[] => [
    { model: "User", operation: "findUnique", args: { where: { id } } },
    { model: "Post", operation: "findMany", args: { where: { authorId: id }, orderBy: { id: "asc" } } },
    { model: "Post", operation: "count", args: { where: { authorId: id } } },
  ]);
}

/** Zipf-like traffic: query i (0-based) is read `rounds / (i + 1)` times (at least once). */
export async function serveTraffic(prisma: object, queries: readonly AppQuery[], rounds: number): Promise<void> {
  for (let i = 0; i < queries.length; i++) {
    for (let n = 0; n < Math.max(1, Math.floor(rounds / (i + 1))); n++) await runRecorded(prisma, queries[i]!);
  }
}

export async function seedUsers(base: PrismaClient, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) ids.push((await seedUser(base)).id);
  return ids;
}
