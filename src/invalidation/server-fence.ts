import { CacheStoreError, RedisSettingsError, type CacheError } from "../errors.js";
import type { BloomGuard } from "../guard/bloom-guard.js";
import type { Counters } from "../stats/counters.js";
import type { MemoryStore } from "../stores/memory-store.js";
import { RECORD_SERVER, ROLLBACK_CHECK, TAKES_WRITES } from "../stores/redis-scripts.js";
import type { RedisStore } from "../stores/redis-store.js";
import { ROLLBACK_CHECK_MS, ServerIdentity, type IdentitySource } from "../stores/server-identity.js";
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
    rolledBack: () => keysWentBack(parts),
    fence: async (runId, reason) => {
      // Instances that trust this server already may hold what this process stored before it
      // noticed (commands resent on reconnection): tell them. On a server nobody trusted yet, no one.
      await fenceNamespace(parts, reason === "changed" || reason === "rolled back" || reason === "replica");
      await recordServer(runId);
      // Said once it took: a fence that fails (the server refusing writes again) is retried, and
      // reported at each attempt it was (outside probe 206: two reports for one fence).
      if (reason === "rolled back") parts.report(new CacheStoreError("ROLLBACK_CHECK", "the Redis server's keys went back (its sequence is below versions this process saw, or its count of this instance's bumps below what Redis reported: SWAPDB, DEBUG RELOAD, REPLICAOF of an older copy, a flush, an allkeys-* eviction): the namespace is fenced"));
      if (reason === "replica") parts.report(new CacheStoreError("READONLY", "the Redis server refused a write as a replica (REPLICAOF, a demotion in place): what it held may have been another server's older copy, so nothing was served from it until it took writes again, and the namespace is fenced"));
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
  store.rollbackWatch = identity;
  return identity;
}

/**
 * Whether the namespace's keys went back: a sequence below the highest version this process saw, or
 * gone while it saw some (a copy taken before the namespace's first bump), or this instance's bump
 * count below what Redis last reported. Once anyone bumped after the rollback the sequence is above
 * them all again (its floor is the clock), but this instance's count is not. (Flushed keys read
 * the same: fencing an emptied namespace costs nothing.) Compared with what was known when the
 * check was sent: Redis ran everything this process heard of before it. A reply read after it (a
 * peek's MGET, whose reply takes fewer steps than a script's, handled first out of one socket
 * read) may already know later versions (an outside probe: one false fence of the whole namespace
 * every 30 s or so under load).
 */
async function keysWentBack(parts: ServerFenceParts): Promise<boolean> {
  return (await rollbackCheck(parts, undefined)).back;
}

/** keysWentBack, and with `serverKey` (a Cluster's) the run_id of the namespace's node and the one recorded there (null when unknown). */
async function rollbackCheck(parts: ServerFenceParts, serverKey: string | undefined): Promise<{ back: boolean; node: string | null; recorded: string | null }> {
  const { store, prefix, versions } = parts;
  const seen = versions.highestSeen;
  const taken = versions.bumpsTaken;
  const keys = [`${prefix}:seq`, bumpCountKeyOf(prefix, parts.bus.instanceId), parts.bus.registryKey];
  const reply = (await store.runPastCircuit(ROLLBACK_CHECK, serverKey === undefined ? keys : [...keys, serverKey], [parts.bus.instanceId])) as unknown[];
  const [sequence, bumps] = [reply[0] ?? null, reply[1] ?? null];
  const sequenceWentBack = seen > 0 && (sequence === null || Number(sequence) < seen);
  const bumpsWentBack = taken > 0 && (bumps === null || Number(bumps) < taken);
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : null);
  return { back: sequenceWentBack || bumpsWentBack, node: text(reply[2]), recorded: text(reply[3]) };
}

/**
 * What a fence does in this process, on one server or a Cluster: L1 flushed, the namespace fenced
 * (sequence raised, every model's generation bumped; published to the fleet when `publish`), the
 * Bloom guards distrusted until rebuilt. L1 is flushed again once that is done: entries read from
 * Redis meanwhile were valid under the versions the fence replaced (on a Cluster reads are not held).
 */
async function fenceNamespace(parts: ServerFenceParts, publish: boolean): Promise<void> {
  parts.l1?.clear();
  await parts.versions.fence(publish);
  parts.l1?.clear();
  parts.guard()?.distrustAll();
}

/** What notices that the namespace's keys went back (see RedisStore.rollbackWatch). */
export interface RollbackWatch {
  /** A bump's reply counted no more of this instance's bumps than an earlier one: fence now. */
  rollbackSeen(): void;
  stop(): void;
}

/**
 * On a Redis Cluster the nodes' identities are not checked, but the namespace's own keys (sequence,
 * versions, marks, Bloom filters: one hash tag, one shard) can still go back: a shard failover to
 * a replica that had not received the last writes — asynchronous replication, a `CLUSTER FAILOVER
 * FORCE` or a killed primary (outside probe 154: rows read as "not found" through the Bloom guard
 * for minutes, and entries of rows served as before writes for up to 14 s). The same check as on
 * one server (keysWentBack), ROLLBACK_CHECK_MS apart, and on a bump's reply; once seen, L1 is
 * flushed and the namespace fenced for the fleet: sequence raised, every model's generation
 * bumped (suspending the Bloom guards until they are rebuilt from the database). There is no gate
 * here: Redis entries read between the rollback and the fence — at most one check period plus a
 * round trip — can be served. The registry of live instances went back too, so for a while writes
 * do not trust their count of receivers (BumpSender.registryMayBeLost).
 */
export function watchClusterRollback(parts: ServerFenceParts): RollbackWatch | undefined {
  if (parts.redis.isCluster !== true) return undefined;
  let stopped = false;
  let checking = false;
  let fencing: Promise<void> | undefined;
  // A fence that failed part way (the shard still failing over) may have raised the sequence and
  // reset the bump count already, so no check would see the keys behind again: it is owed until it
  // completes, and tried again at each tick.
  let owed = false;
  const serverKey = `${parts.prefix}:server`;
  const recordNode = (runId: string) => parts.store.evalUnverified(RECORD_SERVER, [serverKey], [runId]);
  // `node`: the namespace's node is another than the one recorded (fenced, then recorded).
  const fence = (node?: string) => {
    if (stopped || fencing !== undefined) return;
    if (node !== undefined) parts.report(new CacheStoreError("EVALSHA", "the namespace's Redis Cluster node is another server than before (a failover, a restart, the slot moved), which may not hold the last writes — nothing in the keys tells when no process here saw them: the namespace is fenced"));
    else if (!owed) parts.report(new CacheStoreError("EVALSHA", "the namespace's keys went back on its Redis Cluster shard (its sequence is below versions this process saw, or its count of this instance's bumps below what Redis reported: a failover to a replica without the last writes, a flush): the namespace is fenced"));
    owed = node === undefined;
    fencing = fenceNamespace(parts, true)
      .then(async () => {
        if (node !== undefined) await recordNode(node);
      })
      .then(
        () => {
          owed = false;
          parts.counters.redisServerChanges++;
        },
        (error: unknown) => parts.report(error instanceof CacheStoreError ? error : new CacheStoreError("EVALSHA", String(error), { cause: error })),
      )
      .finally(() => (fencing = undefined));
  };
  // The registry went back with the other keys: writes cannot count who acknowledges them for a while.
  const wentBack = () => {
    parts.versions.registryMayBeLost();
    fence();
  };
  // The namespace's node is checked too, against the run_id recorded on it (as a server is on its
  // own): a failover that lost writes is invisible in the keys to a process that never saw them — a
  // fresh one, or one that read other models (outside probe 230: every read stale, Bloom "not found"
  // for rows that existed, in 3 of 3 runs). A node recorded by nobody yet is recorded.
  // Said once: without INFO in scripts the node cannot be told (outside probe 232: a user without it
  // silently turned the check off, and a lossy failover went unfenced again).
  let unidentified = false;
  const check = () => {
    if (owed) return fence();
    if (stopped || checking || fencing !== undefined) return;
    checking = true;
    rollbackCheck(parts, serverKey)
      .then(
        async ({ back, node, recorded }) => {
          if (node === null && !unidentified) {
            unidentified = true;
            parts.report(new RedisSettingsError("run_id", "the namespace's Redis Cluster node does not tell its run_id to scripts (INFO denied or renamed): a failover that loses writes is fenced only by processes that saw them, and fresh ones serve what it lost; grant +info"));
          }
          const changed = node !== null && recorded !== null && recorded !== node;
          if (back) parts.versions.registryMayBeLost();
          // One fence for both, recording the node it was made on.
          if (back || changed) fence(changed ? node : undefined);
          else if (node !== null && recorded === null) await recordNode(node);
        },
        // Redis did not answer: the calls that fail report it; the next check asks again.
        () => undefined,
      )
      .catch(() => undefined)
      .finally(() => (checking = false));
  };
  const timer = setInterval(check, ROLLBACK_CHECK_MS);
  timer.unref();
  // At once too: a process starting after a failover would otherwise serve for a check period first.
  check();
  const watch: RollbackWatch = {
    rollbackSeen: wentBack,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
  parts.store.rollbackWatch = watch;
  return watch;
}
