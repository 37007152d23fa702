// The periodic rollback check (server-fence.ts) against a real Redis: it compares the reply with
// what the instance knew when it sent the check. Versions learnt from a reply handled before the
// check's (a peek's MGET out of the same socket read) once made it fence a namespace nothing had
// rolled back (an outside probe: about every 30 s under load).
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { CacheError } from "../../src/errors.ts";
import { watchServerIdentity } from "../../src/invalidation/server-fence.ts";
import type { Versions } from "../../src/invalidation/versions.ts";
import { Counters } from "../../src/stats/counters.ts";
import { RedisStore } from "../../src/stores/redis-store.ts";
import { createRedis, uniqueNamespace } from "../helpers/client.ts";
import { sleep, until } from "../helpers/wait.ts";

const opened: Array<() => void> = [];
afterEach(() => {
  for (const close of opened.splice(0)) close();
});

/**
 * A fence watching a namespace whose sequence stands at `sequence`, on an instance that has seen
 * versions up to `seen`, which rises to `learntMeanwhile` while each check is in flight (a reply
 * handled just before the check's), then falls back once the check's reply was handled.
 */
async function watch(sequence: number, seen: number, learntMeanwhile: number) {
  const redis: Redis = createRedis();
  const admin = createRedis();
  const prefix = `{${uniqueNamespace()}}`;
  await admin.set(`${prefix}:seq`, sequence);
  const store = new RedisStore(redis, 1_000);
  let highestSeen = seen;
  const send = store.runUnverified.bind(store);
  store.runUnverified = (script, keys, args) => {
    const reply = send(script, keys, args);
    highestSeen = learntMeanwhile;
    // After the continuations the reply resumes (a timer runs after them).
    void reply.finally(() => setTimeout(() => (highestSeen = seen), 0));
    return reply;
  };
  const counters = new Counters();
  const errors: CacheError[] = [];
  const versions = { highestSeen: 0, bumpsTaken: 0, fence: async () => {}, retryNow: () => {} };
  Object.defineProperty(versions, "highestSeen", { get: () => highestSeen });
  const identity = watchServerIdentity({ redis, store, prefix, versions: versions as unknown as Versions, l1: undefined, guard: () => undefined, bus: { instanceId: "i1", reconnect: () => {} } as never, counters, report: (error) => errors.push(error) });
  opened.push(() => {
    identity?.stop();
    redis.disconnect();
    void admin.del(`${prefix}:seq`, `${prefix}:server`).finally(() => admin.disconnect());
  });
  await until(() => identity?.verified === true);
  return { counters, errors, admin, prefix };
}

describe("the periodic rollback check", () => {
  it("does not fence for versions learnt while it was in flight", async () => {
    const { counters } = await watch(150, 100, 200);
    // About eight checks.
    await sleep(2_000);
    expect(counters.redisServerChanges).toBe(0);
  });

  it("fences when the sequence is below what was known when it was sent", async () => {
    const { counters, errors } = await watch(50, 100, 100);
    await until(() => counters.redisServerChanges > 0, 3_000);
    expect(errors.some((error) => /went back/.test(error.message))).toBe(true);
  });
});
