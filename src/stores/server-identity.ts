import { listenShared, type ListenedSource } from "./shared-listeners.js";
import { CacheStoreError, RedisSettingsError, type CacheError } from "../errors.js";

/** What ServerIdentity needs from the command connection (an ioredis `Redis`). */
export interface IdentitySource extends ListenedSource {
  readonly status: string;
}

/**
 * Why a server is fenced: this process talked to another server before (`changed`), the fleet
 * last fenced another one (`fleet`: a process that started after the failover), or no fence was
 * ever recorded on it (`unrecorded`: a new namespace, an empty server, or a replica that lagged
 * behind from the start).
 */
export type FenceReason = "changed" | "fleet" | "unrecorded" | "rolled back" | "replica";

export interface ServerIdentityHooks {
  /** The server's `run_id` (INFO server), or null when the server will not say (ACL, renamed INFO). */
  runId(): Promise<string | null>;
  /**
   * The `run_id` the fleet last fenced this namespace on (a key in Redis), if any, and whether the
   * namespace was ever bumped on this server (its sequence exists).
   */
  fencedOn(): Promise<{ runId: string | null; sequenced: boolean }>;
  /** Records `runId` as fenced without fencing: a namespace never bumped on this server has nothing to distrust. */
  record(runId: string): Promise<void>;
  /**
   * Resolves if the server takes writes now, throws if it refuses them (`NOREPLICAS`, `MISCONF`,
   * `READONLY`): a connection made while it refuses them is not verified (see #check).
   */
  takesWrites?(): Promise<void>;
  /**
   * The server is not the one known before (a failover, a restart): distrust everything and
   * invalidate the whole namespace on it, then record `runId` as fenced. Throws if Redis did not take it.
   */
  fence(runId: string, reason: FenceReason): Promise<void>;
  /**
   * Whether the server's keys went back in time under the same `run_id` (`SWAPDB` to an older
   * copy, `DEBUG RELOAD`, `REPLICAOF` an older copy then `NO ONE`): asked every
   * ROLLBACK_CHECK_MS while verified; true fences as if the server had changed.
   */
  rolledBack?(): Promise<boolean>;
  /** The server's memory limit and eviction policy (INFO memory), asked once: a policy that may evict the cache's keys is reported. */
  evictionSettings?(): Promise<{ maxmemory: number; policy: string } | null>;
  /** The server's replication role (INFO replication), asked on every connection until a replica is reported. */
  replicationRole?(): Promise<string | null>;
  /** The connection may serve reads again (verified, after a fence if one was needed). */
  verified(): void;
  report(error: CacheError): void;
}

/** The `run_id` field of an INFO server reply (a new one every time a redis-server process starts). */
export function runIdOf(info: string): string | null {
  return /^run_id:([0-9a-f]+)\r?$/m.exec(info)?.[1] ?? null;
}

/** How long to wait before trying a failed verification again (the connection is up, Redis answered badly). */
const RETRY_MS = 200;
/** Verifications failed in a row (the first and its retry) after which one is reported and calls stop waiting for the next. */
const FAILED_IN_A_ROW = 2;
/**
 * How often a verified server is asked whether its keys were rolled back (one small script): until
 * then, entries cached before the writes its copy lacks can be served (an outside probe counted up
 * to 954 such reads in the 0.6–0.9 s a one-second period left, at its load). Four a second per
 * instance is little next to its traffic, like the lease heartbeat at the same pace.
 */
export const ROLLBACK_CHECK_MS = 250;

/**
 * Which Redis server the command connection talks to, and whether what it answers may be used.
 * Replication is asynchronous: a promoted replica may lack the last version bumps and dirty marks
 * the old primary acknowledged, while it holds entries whose recorded versions it still calls
 * current (a restart from a snapshot or an AOF loses the same). So whenever the connection becomes
 * ready, the server's `run_id` is compared with the one this process talked to before or, on its
 * first connection, with the one the fleet last fenced on; if it differs, the namespace is fenced
 * (every entry invalidated) on the new server before any read is answered from it.
 *
 * Reads are gated by `verified`: a command sent before verification waits for it, and a reply
 * to a command sent in another connection `epoch` (ioredis resends unanswered commands after a
 * reconnection, and flushes its offline queue before our "ready" listener runs) is discarded.
 */
export class ServerIdentity {
  readonly #hooks: ServerIdentityHooks;
  #verified = false;
  /** Moves on every disconnection: a reply from a later connection than its command's is not used. */
  #epoch = 0;
  /** The run_id of the server last verified (kept while reconnecting, so L1 can compare the subscriber's). */
  #runId: string | null | undefined;
  #askedEviction = false;
  #reportedReplica = false;
  #subscriberRunId: string | null | undefined;
  #agreed = false;
  #waiters: Array<() => void> = [];
  #verifying: number | undefined;
  #reportedEpoch = -1;
  /** Verifications failed since the last that succeeded (any connection). */
  #failedInARow = 0;
  #reportedUnverifiable = false;
  #lastFailure: string | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #rollbackTimer: NodeJS.Timeout | undefined;
  /** The next check fences whatever the run_id says: the keys were rolled back, or the server became a replica. */
  #fenceNext: "rolled back" | "replica" | undefined;
  #stopped = false;
  /** Removes the listeners from the user's connection: it outlives this client (one per `$extends`). */
  readonly #unlisten: () => void;

  constructor(source: IdentitySource, hooks: ServerIdentityHooks) {
    this.#hooks = hooks;
    const lost = () => this.#lost();
    const unlisten = [...(["close", "end", "reconnecting"] as const).map((event) => listenShared(source, event, lost)), listenShared(source, "ready", () => this.#verify())];
    this.#unlisten = () => {
      for (const stop of unlisten) stop();
    };
    // A lazyConnect client is in "wait": the INFO connects it.
    if (source.status === "ready" || source.status === "wait" || source.status === "connecting" || source.status === "connect") this.#verify();
    if (hooks.rolledBack !== undefined) {
      this.#rollbackTimer = setInterval(() => this.#checkRollback(), ROLLBACK_CHECK_MS);
      this.#rollbackTimer.unref();
    }
  }

  /** Whether replies of the command connection may be used now. */
  get verified(): boolean {
    return this.#verified;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Whether the commands' server is verified and the subscriber connection (invalidations, the
   * L1 lease) reaches the same one: L1 may answer only then. Either side that cannot tell its
   * server is not checked.
   */
  get agreed(): boolean {
    return this.#agreed;
  }

  /** Whether the subscriber connection reached another server than the one the commands were verified on. */
  get subscriberElsewhere(): boolean {
    return typeof this.#subscriberRunId === "string" && typeof this.#runId === "string" && this.#subscriberRunId !== this.#runId;
  }

  /** The subscriber connection (re)connected to the server with this run_id (null: it could not tell). */
  subscriberOn(runId: string | null): void {
    this.#subscriberRunId = runId;
    this.#updateAgreement();
  }

  /** The subscriber connection is down: it reaches no server. */
  subscriberLost(): void {
    this.#subscriberRunId = undefined;
    this.#updateAgreement();
  }

  /**
   * Whether verifications keep failing (twice in a row, the second 200 ms after the first): then
   * a command does not wait for the next one, which most likely fails too (a fence Redis refuses:
   * out of memory, NOREPLICAS), and would cost every read its whole `redisTimeout`.
   */
  get failing(): boolean {
    return !this.#verified && this.#failedInARow >= FAILED_IN_A_ROW;
  }

  /** Why the last verification of the connection failed (undefined once one succeeded). */
  get lastFailure(): string | undefined {
    return this.#lastFailure;
  }

  /** Calls `wake` once verified (at once if it is); returns what stops waiting. */
  onVerified(wake: () => void): () => void {
    if (this.#verified) {
      wake();
      return () => {};
    }
    this.#waiters.push(wake);
    return () => {
      const at = this.#waiters.indexOf(wake);
      if (at >= 0) this.#waiters.splice(at, 1);
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#unlisten();
    clearTimeout(this.#retryTimer);
    clearInterval(this.#rollbackTimer);
  }

  /**
   * A bump's reply counted no more of this instance's bumps than an earlier reply did: the keys
   * went back. Fenced at once: asking Redis again could be answered after this instance's next bump
   * raised the count back to what it saw (a race failover.test.ts caught; see ROLLBACK_CHECK).
   */
  rollbackSeen(): void {
    this.#fenceAfter("rolled back");
  }

  /**
   * A server whose keys went back: what it answers now (entries cached before writes its copy
   * lacks, with the versions they recorded) must not be served. Replies in flight are dropped,
   * reads wait, and the namespace is fenced before anything is answered from it again.
   */
  #checkRollback(): void {
    if (!this.#verified || this.#stopped) return;
    const epoch = this.#epoch;
    this.#hooks.rolledBack!().then(
      (rolledBack) => {
        if (!rolledBack || epoch !== this.#epoch) return;
        this.#fenceAfter("rolled back");
      },
      // Redis did not answer: the calls that fail report it; the next check asks again. A replica's
      // `READONLY` refusal of the check (a writing script) was told by the store: see refusedAsReplica.
      () => undefined,
    );
  }

  /**
   * A call was refused `READONLY`: the server became a replica (`REPLICAOF`, a demotion in place),
   * its keys are another server's, perhaps an older copy. Nothing is served from it until it takes
   * writes again (verification asks), and the namespace is fenced then. Before, only the periodic
   * check noticed (outside probe 199: the copy's entries were served for 2–2.5 s while it was read
   * as "no answer"), and while the replica's refusals of reads that take a lock kept the circuit
   * open, the check was not sent at all (outside probe 203: up to 2 s).
   */
  refusedAsReplica(): void {
    this.#fenceAfter("replica");
  }

  /** Drops what is in flight, holds reads, and fences the namespace before the server is trusted again. */
  #fenceAfter(reason: "rolled back" | "replica"): void {
    if (!this.#verified || this.#stopped) return;
    this.#fenceNext = reason;
    this.#lost();
    this.#verify();
  }

  #lost(): void {
    this.#epoch++;
    this.#verified = false;
    this.#verifying = undefined;
    this.#updateAgreement();
  }

  #verify(): void {
    if (this.#stopped || this.#verifying === this.#epoch) return;
    clearTimeout(this.#retryTimer);
    const epoch = this.#epoch;
    this.#verifying = epoch;
    this.#check(epoch).then(
      (done) => {
        if (!done || epoch !== this.#epoch) return;
        this.#verified = true;
        this.#lastFailure = undefined;
        this.#failedInARow = 0;
        this.#updateAgreement();
        for (const wake of this.#waiters.splice(0)) wake();
        this.#hooks.verified();
      },
      (error: unknown) => {
        if (epoch !== this.#epoch) return;
        this.#verifying = undefined;
        this.#lastFailure = String((error as Error)?.message ?? error);
        this.#failedInARow++;
        // One report per connection, once a retry failed too: a start on a busy machine often misses
        // redisTimeout once, and its retry 200 ms later verifies (outside probes 142, 144: 3-4 reports
        // per process start). The failing calls report the rest.
        if (this.#failedInARow >= FAILED_IN_A_ROW && this.#reportedEpoch !== epoch) {
          this.#reportedEpoch = epoch;
          this.#hooks.report(new CacheStoreError("INFO", `could not verify which Redis server this is (reads wait for it): ${String((error as Error)?.message ?? error)}`, { cause: error }));
        }
        // Same connection: try again shortly. A new one (a "close" moved the epoch) is verified on "ready".
        this.#retryTimer = setTimeout(() => {
          if (epoch === this.#epoch) this.#verify();
        }, RETRY_MS);
        this.#retryTimer.unref();
      },
    );
  }

  /**
   * Once per instance: a memory limit with any policy but `noeviction` lets Redis evict what the
   * guarantees rest on (dirty marks expire, so `volatile-*` may evict them; `allkeys-*` may evict
   * the sequence and versions too). Said, not refused: the policy may be the operator's to choose.
   */
  async #reportEviction(): Promise<void> {
    const settings = await this.#hooks.evictionSettings?.().catch(() => null);
    if (settings == null || settings.maxmemory === 0 || settings.policy === "noeviction") return;
    const what = settings.policy.startsWith("allkeys-") ? "the namespace's sequence, versions and dirty marks" : "dirty marks (they expire)";
    this.#hooks.report(new RedisSettingsError("maxmemory-policy", `${settings.policy} (maxmemory ${settings.maxmemory} bytes) lets Redis evict ${what}: a write whose writer is cut off from Redis mid-write may then be served stale, and an evicted Bloom filter is rebuilt (its model's unique reads are unguarded meanwhile); use maxmemory-policy noeviction`));
  }

  /**
   * Once per instance, asked on every connection: a cache given a replica's address (a read
   * endpoint, a load balancer over every node) has its invalidations refused (`READONLY`, so its
   * writes resolve after `redisDownWriteWait` with them undelivered while the fleet on the
   * primary serves the old rows) or, on a writable replica, kept from the fleet. Said, not
   * refused: the connection may be moved to the primary later (a failover the operator is running).
   */
  async #reportReplica(): Promise<void> {
    const role = await this.#hooks.replicationRole?.().catch(() => null);
    if ((role !== "slave" && role !== "replica") || this.#reportedReplica) return;
    this.#reportedReplica = true;
    this.#hooks.report(new RedisSettingsError("role", "the server is a replica (INFO replication: role:slave): it refuses the cache's invalidations (READONLY), or on a writable replica keeps them from instances on the primary, so other instances may serve what this one writes as it was; give the cache the primary's address (behind Sentinel: the sentinels still name this node as the primary, so nothing is served from it until it takes writes — check that a failover completes)"));
  }

  /** Learns the server's run_id and fences the namespace if it is not the one known before; false if superseded. */
  async #check(epoch: number): Promise<boolean> {
    // Both in one round trip; the fleet's record is needed only if this process never knew a server.
    const known = this.#runId;
    // Whether it takes writes, too, in the same round trip (see the end).
    const takesWrites = this.#hooks.takesWrites?.();
    takesWrites?.catch(() => {});
    const [runId, recordedFirst] = await Promise.all([this.#hooks.runId(), typeof known === "string" ? undefined : this.#hooks.fencedOn()]);
    if (epoch !== this.#epoch) return false;
    if (!this.#askedEviction) {
      this.#askedEviction = true;
      void this.#reportEviction();
    }
    // Every connection: the address may lead to a replica only later (a node demoted in place).
    if (!this.#reportedReplica) void this.#reportReplica();
    if (runId === null && !this.#reportedUnverifiable) {
      this.#reportedUnverifiable = true;
      this.#hooks.report(new RedisSettingsError("run_id", "the server does not tell its run_id (INFO denied or renamed): a failover or a restart that lost writes cannot be detected; grant +info"));
    }
    if (this.#fenceNext !== undefined) {
      // Not before the server takes writes: a replica refuses the fence, and each retry (every
      // 200 ms) reported the rollback again (outside probe 203: 16–20 reports in a 4 s demotion).
      await takesWrites;
      if (epoch !== this.#epoch) return false;
      // Another server meanwhile (a Sentinel failover: the demoted primary refused a call first): no rollback to report.
      await this.#hooks.fence(runId ?? "", typeof known === "string" && runId !== null && runId !== known ? "changed" : this.#fenceNext);
      this.#fenceNext = undefined;
    } else if (runId !== null) {
      // Back on the server it knew (same process, nothing lost): nothing to fence. A process that
      // never knew one (started after the failover) relies on the fleet's record.
      const changedHere = typeof known === "string" && known !== runId;
      const recorded = typeof known === "string" ? runId : recordedFirst!.runId;
      if (!changedHere && recorded === null && !recordedFirst!.sequenced) {
        // A namespace no write ever bumped here (new, or the server restarted empty): its entries
        // recorded the versions every name still has. Fencing it would only cost the fleet its
        // start-up (every instance starting at once would invalidate the others' work).
        await this.#hooks.record(runId);
      } else if (changedHere || recorded !== runId) {
        if (epoch !== this.#epoch) return false;
        await this.#hooks.fence(runId, changedHere ? "changed" : recorded === null ? "unrecorded" : "fleet");
      }
    }
    // Other instances' writes may have resolved with their invalidations refused while Redis
    // refused writes: an instance that connects meanwhile serves nothing from it (reads go to the
    // database) until it takes them again (an outside probe: 434 489 stale reads from an instance
    // started during such a refusal). Registered instances stop serving cached data through their
    // registration (see InstanceRegistry.current).
    await takesWrites;
    if (epoch !== this.#epoch) return false;
    this.#runId = runId;
    this.#updateAgreement();
    return true;
  }

  /**
   * L1 answers only while the commands' server is verified (a reconnection may lead elsewhere)
   * and the subscription reaches the same one; a side that cannot tell its server is not checked.
   */
  #updateAgreement(): void {
    const commands = this.#runId;
    const subscriber = this.#subscriberRunId;
    this.#agreed = this.#verified && (commands === null || subscriber === null || (commands !== undefined && subscriber === commands));
  }
}
