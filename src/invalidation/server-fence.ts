import { CacheStoreError, type CacheError } from "../errors.js";
import type { BloomGuard } from "../guard/bloom-guard.js";
import type { Counters } from "../stats/counters.js";
import type { MemoryStore } from "../stores/memory-store.js";
import { RECORD_SERVER, ROLLBACK_CHECK, TAKES_WRITES } from "../stores/redis-scripts.js";
import type { RedisStore } from "../stores/redis-store.js";
import { ServerIdentity, type IdentitySource } from "../stores/server-identity.js";
import type { RedisLike } from "../types.js";
import type { Bus } from "./bus.js";
import { bumpCountKeyOf } from "./bump-sender.js";
import type { Versions } from "./versions.js";

export interface ServerFenceParts {
  redis: RedisLike;
  store: RedisStore;
  prefix: string;
  versions: Versions;
  l1: MemoryStore | undefined;
  guard: () => BloomGuard | undefined;
  bus: Bus;
  counters: Counters;
  report: (error: CacheError) => void;
}

/**
 * Watches which Redis server the command connection reaches (standalone and Sentinel; a Cluster's
 * nodes are not checked) and fences the namespace when it is not the one trusted before: L1
 * flushed, every version forgotten, the sequence raised above what this process saw, every model
 * generation bumped on the new server, Bloom filters reloaded; then queued invalidations are
 * delivered. Gates the store's reads until that is done (see ServerIdentity). Undefined when the
 * client cannot tell its server (a Cluster, or a client without INFO and connection events).
 */
export function watchServerIdentity(parts: ServerFenceParts): ServerIdentity | undefined {
  const { redis, store, prefix, versions, counters } = parts;
  if (redis.isCluster === true || typeof redis.on !== "function" || typeof redis.info !== "function") return undefined;
  const serverKey = `${prefix}:server`;
  // A script that runs out of memory too (allow-oom): a plain SET there left a fresh namespace unverifiable.
  const recordServer = async (runId: string) => void (await store.evalUnverified(RECORD_SERVER, [serverKey], [runId]));
  const identity = new ServerIdentity(redis as IdentitySource, {
    runId: () => store.serverRunId(),
    evictionSettings: () => store.evictionSettings(),
    replicationRole: () => store.replicationRole(),
    fencedOn: async () => {
      const [runId, sequence] = await Promise.all([store.getUnverified(serverKey), store.getUnverified(`${prefix}:seq`)]);
      return { runId, sequenced: sequence !== null };
    },
    record: (runId) => recordServer(runId),
    takesWrites: async () => void (await store.evalUnverified(TAKES_WRITES, [], [])),
    rolledBack: async () => {
      // Every version this process saw came from the sequence: a sequence below the highest of
      // them, or gone while they are not (a copy taken before the namespace's first bump), went back.
      // Once anyone bumped after the rollback the sequence is above them all again (its floor is the
      // clock), but this instance's own bump count is not: it counts fewer than Redis reported.
      // (Flushed keys read the same: fencing an emptied namespace costs nothing.)
      // Compared with what was known when the check was sent: Redis ran everything this process
      // heard of before it. A reply read after it (a peek's MGET, whose reply takes fewer steps than
      // a script's, handled first out of one socket read) may already know later versions
      // (an outside probe: one false fence of the whole namespace every 30 s or so under load).
      const seen = versions.highestSeen;
      const taken = versions.bumpsTaken;
      const reply = (await store.runUnverified(ROLLBACK_CHECK, [`${prefix}:seq`, bumpCountKeyOf(prefix, parts.bus.instanceId)], [])) as unknown[];
      const [sequence, bumps] = [reply[0] ?? null, reply[1] ?? null];
      const sequenceWentBack = seen > 0 && (sequence === null || Number(sequence) < seen);
      const bumpsWentBack = taken > 0 && (bumps === null || Number(bumps) < taken);
      return sequenceWentBack || bumpsWentBack;
    },
    fence: async (runId, reason) => {
      if (reason === "rolled back") parts.report(new CacheStoreError("INFO", "the Redis server's keys went back (its sequence is below versions this process saw, or its count of this instance's bumps below what Redis reported: SWAPDB, DEBUG RELOAD, REPLICAOF of an older copy, a flush): the namespace is fenced"));
      parts.l1?.clear();
      // Instances that trust this server already may hold what this process stored before it
      // noticed (commands resent on reconnection): tell them. On a server nobody trusted yet, no one.
      await versions.fence(reason === "changed" || reason === "rolled back");
      parts.guard()?.distrustAll();
      await recordServer(runId);
      // Counted once it took: a fence Redis refuses (NOREPLICAS on a promoted replica without its own) is retried several times a second.
      if (reason !== "unrecorded") counters.redisServerChanges++;
    },
    verified: () => {
      versions.retryNow();
      // The subscription reached another server than the commands (the failover seen by one side): renew it.
      if (identity.subscriberElsewhere) parts.bus.reconnect();
    },
    report: parts.report,
  });
  store.identity = identity;
  return identity;
}
