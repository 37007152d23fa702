import { RecentMap } from "../core/recent-map.js";
import { CacheError, CacheStoreError } from "../errors.js";
import type { Counters } from "../stats/counters.js";
import { DELETE_IF_EQUAL, FENCED_SET, LOOKUP, LOOKUP_OR_LOCK, RAISE_SEQUENCE, READ_VERSIONS, STORE_AND_RELEASE } from "../stores/redis-scripts.js";
import type { RedisStore } from "../stores/redis-store.js";
import type { Bus } from "./bus.js";
import { waitUntilLapsed } from "./lease.js";
import { DistrustLedger } from "./distrust-ledger.js";
import { BumpSender, bumpCountKeyOf, expiryFlag, versionKeyOf, type PendingOp } from "./bump-sender.js";
import { InvalidationBacklog } from "./invalidation-backlog.js";
import { lookupOrLockArgs, lockStatusOf, type LockAttempt, type Lookup } from "./lookup-or-lock.js";

/** A held fleet lock to release together with the store, and the wake-up to publish. */
export interface LockRelease {
  lockKey: string;
  /** Where failed lock attempts mark that they wait: the wake-up is published only if marked. */
  waitedKey: string;
  token: string;
  landedMessage: string;
}

/** Identity tags to add to one model's Bloom filters (live and being rebuilt) as part of a bump. */
export interface BloomGroup {
  keys: readonly [liveMeta: string, liveBits: string, nextMeta: string, nextBits: string];
  items: readonly string[];
}

/** A version name and the value a cached entry recorded for it. */
export type Dep = readonly [name: string, version: number];

export interface VersionsOptions {
  /** The Redis side, or undefined for an in-process cache. */
  redis: { store: RedisStore; bus: Bus; prefix: string } | undefined;
  counters: Counters;
  report: (error: CacheError) => void;
  /**
   * How long tag versions (identity and user tags) live in Redis, at least: this instance's
   * longest entry lifetime (the fleet shares the longest any instance asked for). An integer.
   */
  tagTtlMs: number;
  ackTimeoutMs: number;
  /** Every instance's L1 lease (ms): a write not acknowledged by all waits until theirs lapsed. */
  leaseTtlMs: number;
  maxLocalNames: number;
  /** The Bloom additions a bump of these names carries (none without guarded models). */
  bloomGroups?: (names: readonly string[]) => BloomGroup[];
  /** Names whose bump invalidates every entry (all models' generations): what a backlog too long to replay becomes. */
  namespaceWide?: () => readonly string[];
  /** How long a write's dirty marks stand if its writer never confirms it: longer than any write takes. */
  markTtlMs?: number;
  /**
   * What an announced write is swept with if its writer vanishes before confirming it: the names
   * only its result would reveal are unknown, so everything of the models it announced.
   */
  sweepWith?: (announced: readonly string[]) => readonly string[];
}

/** What INCR (and the scripts that copy the sequence) write: a decimal integer in the safe range. */
const VERSION = /^(0|[1-9][0-9]{0,15})$/;
/** A write announced before it runs: confirm it with `bump(names, token)` once it committed (or rolled back). */
export interface Announcement {
  /** Cleared by the confirmation wherever it was set (even by an announcement that timed out and ran late). */
  token: string;
  /** The names announced (and marked): none when Redis did not take the announcement. */
  names: ReadonlySet<string>;
}

/**
 * The version of every name the cache has seen. Redis holds the truth and a global sequence
 * (values never repeat, even after a tag expires); this process keeps the latest values it
 * knows, so L1 can validate an entry without a round trip. Without Redis the local map is the
 * truth, and a name evicted from it is read as the highest value ever evicted (never stale).
 */
export class Versions {
  readonly #options: VersionsOptions;
  readonly #local: RecentMap<string, number>;
  /** Invalidations Redis has not accepted yet, retried until it does. */
  readonly #backlog: InvalidationBacklog;
  /** False once close() stopped delivering (see stopDelivering). */
  #delivering = true;
  /** Which Redis replies may teach a version: none that may predate an invalidation of it. */
  readonly #ledger: DistrustLedger;
  /** Sends bumps to Redis (Redis mode only) and waits for every instance's acknowledgement. */
  readonly #sender: BumpSender | undefined;
  #evictedFloor = 0;
  #epoch = 0;
  #localSeq = 0;
  /** The highest version any Redis server told this process: the sequence floor of a fence on another server. */
  #highestSeen = 0;

  constructor(options: VersionsOptions) {
    this.#options = options;
    this.#ledger = new DistrustLedger(options.maxLocalNames);
    this.#sender =
      options.redis === undefined
        ? undefined
        : new BumpSender(options, options.redis, this.#ledger, {
            applied: (seq, names, sentAt) => this.invalidated(seq, names, sentAt),
            delivered: (names, sentMs) => this.#backlog.delivered(names, sentMs),
          });
    this.#backlog = new InvalidationBacklog({
      // The backlog retries in the background: a bug there must be reported, not crash the application's process.
      send: (names, confirming) =>
        this.#sender!.send(names, confirming === undefined ? "" : "clear", confirming).catch((error: unknown) => {
          options.report(error instanceof CacheError ? error : new CacheStoreError("EVALSHA", `delivering queued invalidations failed: ${String(error)}`, { cause: error }));
          return false;
        }),
      counters: options.counters,
      namespaceWide: options.namespaceWide,
    });
    this.#local = new RecentMap<string, number>(options.maxLocalNames, (_name, value) => {
      this.#evictedFloor = Math.max(this.#evictedFloor, value);
    });
  }

  /** Whether every recorded version is the one this process knows to be current. */
  localMatches(deps: readonly Dep[]): boolean {
    for (const [name, version] of deps) {
      if (this.#current(name) !== version) return false;
    }
    return true;
  }

  /** Names with an invalidation that Redis has not accepted yet: nothing about them may be cached. */
  hasPending(names: readonly string[]): boolean {
    return this.#backlog.hasAny(names);
  }

  get pendingCount(): number {
    return this.#backlog.size;
  }

  /** The current versions of `names`, from Redis (absent names are 0) or from this process. */
  async fetch(names: readonly string[]): Promise<number[]> {
    const redis = this.#options.redis;
    if (redis === undefined) return names.map((name) => this.#current(name)!);
    return (await this.#readVersions(names, false)).current;
  }

  /** READ_VERSIONS, and with `checkMarks` whether a write in progress marked any of `names`. */
  async #readVersions(names: readonly string[], checkMarks: boolean): Promise<{ current: number[]; dirty: boolean }> {
    const redis = this.#options.redis!;
    const keys = [`${redis.prefix}:seq`, `${redis.prefix}:lifetime`, ...names.map((name) => this.keyOf(name))];
    const sentAt = this.#ledger.begin();
    let values: Array<string | number>;
    try {
      values = (await redis.store.run(READ_VERSIONS, keys, [this.#options.tagTtlMs, ...names.map(expiryFlag), ...(checkMarks ? ["1"] : [])])) as Array<string | number>;
    } finally {
      this.#ledger.end(sentAt);
    }
    return { current: names.map((name, i) => this.#readVersion(name, values[i], sentAt)), dirty: checkMarks && values[names.length] === 1 };
  }

  /**
   * The stored entry under `key` (Redis only) and the current versions of `names`, in one round
   * trip where the server allows scripts across these keys (not on a Cluster: two commands, one RTT).
   * With `lock` (not on a Cluster), the same round trip takes the fleet lock if the entry cannot be served.
   */
  async lookup(key: string, names: readonly string[], lock?: LockAttempt): Promise<Lookup> {
    const redis = this.#options.redis;
    if (redis === undefined) return { stored: null, current: await this.fetch(names), dirty: false };
    if (redis.store.isCluster) {
      // The entry lives in another slot than the versions and their marks: two commands, one round trip.
      const [stored, { current, dirty }] = await Promise.all([redis.store.get(key), this.#readVersions(names, true)]);
      return { stored, current, dirty };
    }
    const keys = [key, `${redis.prefix}:seq`, `${redis.prefix}:lifetime`, ...names.map((name) => this.keyOf(name))];
    const args = [this.#options.tagTtlMs, ...names.map(expiryFlag)];
    if (lock !== undefined) lookupOrLockArgs(lock, names, keys, args);
    const sentAt = this.#ledger.begin();
    let reply: Array<string | number | null | false>;
    try {
      reply = (await redis.store.run(lock === undefined ? LOOKUP : LOOKUP_OR_LOCK, keys, args)) as Array<string | number | null | false>;
    } finally {
      this.#ledger.end(sentAt);
    }
    // LOOKUP_OR_LOCK's reply starts with the lock status.
    const at = lock === undefined ? 0 : 1;
    const current = names.map((name, i) => this.#readVersion(name, reply[at + i + 1], sentAt));
    const dirty = reply[at + names.length + 1] === 1;
    return { stored: (reply[at] as string | null | false) || null, current, dirty, lock: lock === undefined || dirty ? undefined : lockStatusOf(reply[0]) };
  }

  /**
   * The stored entry under `key` and the current versions of `names`, read with one MGET — no
   * script, nothing created, no marks checked: what LOOKUP_OR_LOCK's hit path reads, for a key
   * expected to hit (see L2Lookup). `current` is undefined when a version is absent or not a
   * sequence number (the full lookup then re-creates or repairs it). Standalone Redis only.
   */
  async peek(key: string, names: readonly string[]): Promise<{ stored: string | null; current: number[] | undefined }> {
    const redis = this.#options.redis!;
    const sentAt = this.#ledger.begin();
    let values: Array<string | null>;
    try {
      values = await redis.store.mget([key, ...names.map((name) => this.keyOf(name))]);
    } finally {
      this.#ledger.end(sentAt);
    }
    const current: number[] = [];
    for (let i = 0; i < names.length; i++) {
      const text = values[i + 1];
      if (text === null || !VERSION.test(text!)) return { stored: values[0]!, current: undefined };
      current.push(Number(text));
    }
    current.forEach((version, i) => this.#learn(names[i]!, version, sentAt));
    return { stored: values[0]!, current };
  }

  /**
   * Moves on whenever this process learns of an invalidation. A read may share work with
   * another only if both started in the same epoch: a write that resolved before the later one
   * started was acknowledged by this process, so it moved the epoch in between.
   */
  get epoch(): number {
    return this.#epoch;
  }

  /** Runs a Redis read whose reply is passed to observe() with the stamp it was sent at. */
  async readStamped<T>(read: (sentAt: number) => Promise<T>): Promise<T> {
    const sentAt = this.#ledger.begin();
    try {
      return await read(sentAt);
    } finally {
      this.#ledger.end(sentAt);
    }
  }

  /** Learns a version read from Redis by a read sent at `sentAt` (see readStamped); versions only move forward. */
  observe(name: string, version: number, sentAt: number): void {
    this.#learn(name, version, sentAt);
  }

  /**
   * A version as Redis returned it. Anything but a sequence number (written by hand, by another
   * program) matches no entry (NaN) and is deleted, so the next read re-creates it at the current
   * sequence number — which no entry can have recorded before a write.
   */
  #readVersion(name: string, text: unknown, sentAt: number): number {
    if (typeof text === "string" && VERSION.test(text)) {
      const version = Number(text);
      this.#learn(name, version, sentAt);
      return version;
    }
    const { store, prefix } = this.#options.redis!;
    this.#options.counters.corruptEntries++;
    this.#options.report(new CacheError("E_CORRUPT_ENTRY", `version ${name} in Redis is not a sequence number (${JSON.stringify(String(text)).slice(0, 40)}): deleted`));
    store.run(DELETE_IF_EQUAL, [versionKeyOf(prefix, name)], [String(text)]).catch((error: unknown) => this.#options.report(error instanceof CacheError ? error : new CacheStoreError("EVALSHA", String(error))));
    return Number.NaN;
  }

  /** The highest sequence number this process saw in Redis (a version, or its own bump's): the sequence there is never below it, unless the server's keys were rolled back. */
  get highestSeen(): number {
    return this.#highestSeen;
  }

  /** The namespace's keys went back on a Cluster: bumps cannot count their receivers for a while (see BumpSender.registryMayBeLost). */
  registryMayBeLost(): void {
    this.#sender?.registryMayBeLost();
  }

  /** How many of this instance's bumps Redis reported taking since the last fence (see ROLLBACK_CHECK). */
  get bumpsTaken(): number {
    return this.#sender?.bumpsTaken ?? 0;
  }

  /** Learns a version from a Redis read sent at `sentAt`, unless the reply may predate an invalidation of it. */
  #learn(name: string, version: number, sentAt: number): void {
    if (version > this.#highestSeen) this.#highestSeen = version;
    if (this.#backlog.has(name) || !Number.isSafeInteger(version) || !this.#ledger.mayLearn(name, sentAt)) return;
    const known = this.#local.get(name);
    if (known === undefined || known < version) this.#local.set(name, version);
  }

  /** Applies this process's own bump, at the sequence number Redis returned, and moves the epoch. */
  invalidated(seq: number, names: readonly string[], sentAt: number): void {
    this.#epoch++;
    for (const name of names) this.#learn(name, seq, sentAt);
  }

  /**
   * Applies an invalidation announced on the bus. Its sequence number is a claim anyone able to
   * PUBLISH could forge, so it is not adopted: the names' local versions are dropped instead, and
   * L1 entries that depend on them are served again only once a Redis read re-learnt them.
   */
  distrust(names: readonly string[]): void {
    this.#epoch++;
    if (this.#options.redis === undefined) return;
    for (const name of names) this.#local.delete(name);
    this.#ledger.drop(names);
  }

  /** Forgets everything learnt from Redis: after missed messages, nothing local can be trusted. */
  forget(): void {
    this.#epoch++;
    if (this.#options.redis === undefined) return;
    this.#local.clear();
    this.#ledger.forgetAll();
  }

  /**
   * Bumps `names` everywhere and resolves once every live instance has applied it, or once the
   * L1 lease of any that did not must have lapsed. If Redis cannot take it, the bump is kept and
   * retried; until then these names are pending and reads that depend on them bypass the cache,
   * and the write resolves only once every lease renewed before the failure has lapsed.
   * `addsIdentities`: as for announce(); a bump replayed from the queue always adds them.
   * `waitIfQueued` false: resolves false at once when the bump is queued (a refused write's,
   * which changed nothing another instance could serve). `onTaken`: see BumpSender.send.
   */
  async bump(names: ReadonlySet<string> | readonly string[], confirming?: string, addsIdentities = true, waitIfQueued = true, onTaken?: () => void): Promise<boolean> {
    const list = [...names];
    if (list.length === 0) {
      onTaken?.();
      return true;
    }
    const redis = this.#options.redis;
    if (redis === undefined) {
      const seq = ++this.#localSeq + this.#evictedFloor;
      this.#epoch++;
      for (const name of list) this.#local.set(name, seq);
      this.#options.counters.invalidationSent(list);
      return true;
    }
    // Closed: what close() reported as undelivered cannot be sent any more, and waiting would only keep the process up.
    if (!this.#delivering) return false;
    if (await this.#sender!.send(list, confirming === undefined ? "" : "clear", confirming, addsIdentities, undefined, undefined, onTaken)) return true;
    const failedAt = performance.now();
    this.#queue(list, confirming);
    if (!waitIfQueued) return false;
    // Instances that cannot hear Redis either have lost their L1 lease once this has passed (the
    // longest lease the fleet last reported: others may be configured with a longer one).
    await waitUntilLapsed(failedAt, Math.max(this.#options.leaseTtlMs, redis.bus.fleetLeaseMs));
    return false;
  }

  /**
   * Fences the namespace on a Redis server that may lack the last bumps and marks (a promoted
   * replica, a restart): forgets every version learnt, raises the server's sequence above every
   * value this process saw, then bumps every model's generations (every entry depends on one)
   * without waiting for acknowledgements. `publish` false: silently (no instance trusts this
   * server yet). Throws if Redis did not take it.
   */
  async fence(publish: boolean): Promise<void> {
    const redis = this.#options.redis;
    if (redis === undefined) return;
    this.forget();
    const sender = this.#sender!;
    // Past an open circuit, as the fence's bumps and the verification that runs it (see RedisStore.getUnverified).
    await redis.store.runPastCircuit(RAISE_SEQUENCE, [`${redis.prefix}:seq`, bumpCountKeyOf(redis.prefix, redis.bus.instanceId), redis.bus.registryKey], [String(this.#highestSeen), String(sender.bumpsTaken), redis.bus.instanceId]);
    const names = this.#options.namespaceWide?.() ?? [];
    if (!(await sender.fence(names, publish))) throw new CacheStoreError("EVALSHA", "the namespace-wide bump after a Redis server change failed");
  }

  /**
   * Announces a write before it touches the database: bumps `names` (so every entry recorded
   * before is invalid everywhere) and marks them dirty (so nothing loaded until the write is
   * confirmed is stored or served from Redis). Undefined if Redis could not take it. The caller
   * confirms with `bump(names, token)`; unconfirmed marks lapse after `markTtlMs` (this call's, else
   * the options'; a token marked again lapses at its new time). Nobody
   * acknowledges an announcement (see WriteAnnouncer.confirm). `addsIdentities`: false when the
   * write cannot create a record identity, so the bump adds nothing to the Bloom filters.
   */
  async announce(names: Iterable<string>, token: string, addsIdentities = true, markTtlMs?: number): Promise<Announcement | undefined> {
    const list = [...new Set(names)];
    if (this.#options.redis === undefined || list.length === 0) return { token, names: new Set(list) };
    // Recorded as pending, to be swept if its writer vanishes before confirming it — unless these
    // marks already stand for `lateCommitWindow` over its models (a write of unknown outcome, whose record goes).
    const sweepWith = markTtlMs === undefined ? (this.#options.sweepWith?.(list) ?? []) : [];
    const pending: PendingOp = markTtlMs !== undefined ? { op: "del" } : sweepWith.length > 0 ? { op: "add", sweepWith } : { op: "" };
    const sent = await this.#sender!.send(list, "set", token, addsIdentities, markTtlMs, pending);
    return sent ? { token, names: new Set(list) } : undefined;
  }

  /**
   * Sweeps a write whose writer stopped (or lost Redis) between its announcement and its
   * confirmation, found by this instance's registration heartbeat: bumps `names` (its models'
   * generations: every unique read and list of them) and marks them with the write's token for
   * `markTtlMs` (`lateCommitWindow`: the write may still commit), never shortening a mark its
   * announcement set (the model's generation: it stands until it lapses). False if another instance swept
   * it first, the writer confirmed it meanwhile, or Redis did not take it (the next heartbeat finds it again).
   */
  async sweep(names: readonly string[], token: string, markTtlMs: number): Promise<boolean> {
    if (this.#sender === undefined || names.length === 0) return false;
    return (await this.#sender.sweep(names, token, markTtlMs)) === "sent";
  }

  /**
   * Stores an entry only if the versions captured before loading are still current (Lua). With
   * `release`, the same script releases the caller's fleet lock and wakes the waiters; the
   * result says whether it did (it cannot on a Cluster, where the caller releases it).
   */
  async storeFenced(key: string, value: string, ttlMs: number, deps: readonly Dep[], release?: LockRelease): Promise<{ stored: boolean; released: boolean }> {
    const redis = this.#options.redis!;
    const ttl = Math.max(1, Math.round(ttlMs));
    if (redis.store.isCluster) {
      // Cluster: version keys and entries live in different slots, so no atomic check; the entry
      // still records its versions, and a read never serves one whose versions moved on.
      await redis.store.set(key, value, ttl);
      return { stored: true, released: false };
    }
    const versionKeys = deps.map(([name]) => this.keyOf(name));
    const expected = deps.map(([, version]) => String(version));
    if (release === undefined) {
      return { stored: (await redis.store.run(FENCED_SET, [key, ...versionKeys], [value, ttl, ...expected])) === 1, released: false };
    }
    const keys = [key, release.lockKey, release.waitedKey, ...versionKeys];
    const stored = await redis.store.run(STORE_AND_RELEASE, keys, [value, ttl, release.token, redis.bus.eventsChannel, release.landedMessage, ...expected]);
    return { stored: stored === 1, released: true };
  }

  keyOf(name: string): string {
    return versionKeyOf(this.#options.redis!.prefix, name);
  }

  /** Tries once more to deliver queued invalidations (the retry timer and close() use it). */
  flush(): Promise<boolean> {
    return this.#backlog.flush();
  }

  /** Resolves true once none of `names` is queued any more (delivered), false after `timeoutMs` (at once after stopDelivering). */
  delivered(names: Iterable<string>, timeoutMs: number): Promise<boolean> {
    if (!this.#delivering) return Promise.resolve(false);
    return this.#backlog.waitDelivered(names, timeoutMs);
  }

  /**
   * close() is closing the connections, having reported what was not delivered (the writes still
   * running included): nothing is sent or retried from now on, and a write that commits after it
   * resolves at once, counted undelivered — it spent a lease and `redisDownWriteWait` on closed
   * connections before, keeping the process up 6 s after the application had closed everything
   * (outside probe 165).
   */
  stopDelivering(): void {
    this.#delivering = false;
    this.#backlog.stop();
  }

  /** Names queued and not delivered yet (what close() reports when it cannot deliver them). */
  pendingNames(): string[] {
    return this.#backlog.names();
  }

  /** Delivers the queue now instead of at the next retry (Redis is back). */
  retryNow(): void {
    this.#backlog.retryNow();
  }

  /** The version this process knows for `name` (undefined in Redis mode when it knows none). */
  known(name: string): number | undefined {
    return this.#current(name);
  }

  /** In Redis mode an unknown name is unknown; in process, it is at most the evicted floor. */
  #current(name: string): number | undefined {
    const known = this.#local.get(name);
    return known === undefined && this.#options.redis === undefined ? this.#evictedFloor : known;
  }

  /** Redis did not take a bump: stop trusting what this process knows of the names at once, and queue it. */
  #queue(list: readonly string[], confirming: string | undefined): void {
    this.#epoch++;
    for (const name of list) this.#local.delete(name);
    this.#backlog.add(list, confirming);
  }
}
