import { randomUUID } from "node:crypto";
import { CacheError } from "../errors.js";
import type { LockAttempt } from "../invalidation/lookup-or-lock.js";
import { CorruptEntry, decodePayload, depsAreCurrent, parseEntry, type CacheEntry } from "../stores/entry.js";
import { DELETE_IF_EQUAL } from "../stores/redis-scripts.js";
import type { CacheFill } from "./cache-fill.js";
import { replicaKeyOf } from "./cache-fill.js";
import { lockKeyOf, type HeldLock } from "./fleet-lock.js";
import type { ReadRequest } from "./read-request.js";
import type { TieredCacheParts } from "./tiered-cache.js";

/** A current entry read from Redis, with its decoded value. */
export type DecodedEntry = CacheEntry & { value: unknown };

export interface Found {
  /** The stored entry, if its recorded versions are the current ones. */
  entry: DecodedEntry | undefined;
  current: number[];
  /** A write in progress marked a dependency dirty: nothing may be served or stored from this lookup. */
  dirty: boolean;
}

/**
 * A lookup that tried the fleet lock when it found nothing servable: `entry` is set only if
 * servable. `lock`: "taken" (then `held`), held by this process or another one, or "none" (no
 * lock tried: no lock configured, a write in progress, or an entry Redis judged servable and
 * this process did not — its clock moved on, or the entry is corrupt).
 */
export interface LockedLookup extends Found {
  lock: "entry" | "taken" | "held-here" | "held-elsewhere" | "none";
  held?: HeldLock | undefined;
}

/** How many keys are remembered as hitting (see L2Lookup.#hitting); the set starts over when full. */
const MAX_REMEMBERED_HITS = 10_000;

type LookupParts = Pick<TieredCacheParts, "versions" | "codec" | "counters" | "report" | "l2" | "random" | "replicas" | "lock" | "clock" | "landedMessage">;

/** Reads entries from Redis: checked, decoded, a hot key's replicas first, and the fleet lock in the same round trip on a miss. */
export class L2Lookup {
  readonly #parts: LookupParts;
  readonly #fill: CacheFill;
  /**
   * Keys whose last lookup here found a servable entry, a hot key's replica keys included. They
   * are looked up with a plain MGET first (see peek): a hit then costs Redis no script and the
   * request no lock arguments, and a key that stopped hitting costs one round trip more, once.
   * Keys never seen (a cold miss) go straight to LOOKUP_OR_LOCK, which takes the lock in the same
   * round trip.
   */
  readonly #hitting = new Set<string>();
  /**
   * The replica a hot key's read drew when it peeked: its full lookup reads the same one (one draw
   * per read, so the replicas share the reads evenly), or the primary key (0) if the peek found
   * the replica's entry unservable (the script would say so too).
   */
  readonly #drawnReplica = new WeakMap<ReadRequest, number>();

  constructor(parts: LookupParts, fill: CacheFill) {
    this.#parts = parts;
    this.#fill = fill;
  }

  /**
   * The stored entry if it is current (undefined otherwise) and the current versions. A hot key
   * is read from a random replica, falling back to the primary key (and re-seeding the replica).
   */
  async lookup(request: ReadRequest): Promise<Found> {
    const replica = this.#replica(request);
    if (replica > 0) {
      const replicaKey = replicaKeyOf(request.key, replica);
      const found = await this.#lookupKey(request, replicaKey);
      if (found.entry !== undefined) {
        this.#parts.counters.replicaReads++;
        return found;
      }
      const primary = await this.#lookupKey(request, request.key);
      if (primary.entry !== undefined) this.#fill.storeReplica(replicaKey, primary.entry);
      return primary;
    }
    return this.#lookupKey(request, request.key);
  }

  /**
   * The entry if servable (see `servable`), else the fleet lock: taken in the lookup's own round
   * trip (LOOKUP_OR_LOCK), or found held. `ownToken` is the token of a lock this process holds
   * for the key; `mark` whether a failed attempt marks that it will wait for a wake-up.
   */
  async lookupOrLock(request: ReadRequest, replacing: number, ownToken: string, mark: boolean): Promise<LockedLookup> {
    const { lock, l2, clock } = this.#parts;
    if (lock === undefined || l2 === undefined) {
      const found = await this.lookup(request);
      return this.#servable(found.entry, replacing) ? { ...found, lock: "entry" } : { ...found, entry: undefined, lock: "none" };
    }
    const replica = this.#drawnReplica.get(request) ?? this.#replica(request);
    const replicaKey = replica > 0 ? replicaKeyOf(request.key, replica) : undefined;
    if (replicaKey !== undefined) {
      const found = await this.#lookupKey(request, replicaKey);
      if (this.#servable(found.entry, replacing)) {
        this.#rememberHit(replicaKey);
        this.#parts.counters.replicaReads++;
        return { ...found, lock: "entry" };
      }
    }
    const lockKey = lockKeyOf(request.key);
    if (l2.isCluster) return this.#lookupThenLock(request, replacing, lockKey, ownToken);
    const now = clock.now();
    const attempt: LockAttempt = {
      lockKey,
      waitedKey: lock.waitedKeyOf(lockKey),
      token: randomUUID(),
      ttlMs: lock.ttlMs,
      ownToken,
      freshAfter: replacing === -Infinity ? 0 : Math.max(replacing, now),
      staleAfter: now,
      mark,
    };
    let reply;
    try {
      reply = await this.#parts.versions.lookup(request.key, request.deps, attempt);
    } catch (error) {
      lock.releaseAfterTimeout(error, lockKey, attempt.token);
      throw error;
    }
    const { current, dirty } = reply;
    if (reply.lock !== "entry") this.#hitting.delete(request.key);
    if (dirty || reply.lock === undefined) return { entry: undefined, current, dirty, lock: "none" };
    // A text Redis could not read as an entry: counted, reported and deleted here.
    if (reply.lock !== "entry" && reply.stored !== null) this.#entryOf(request, request.key, reply.stored, current);
    if (reply.lock === "taken") return { entry: undefined, current, dirty, lock: "taken", held: lock.hold(lockKey, attempt.token, this.#parts.landedMessage(request.key)) };
    if (reply.lock !== "entry") return { entry: undefined, current, dirty, lock: reply.lock };
    const entry = this.#entryOf(request, request.key, reply.stored, current);
    if (!this.#servable(entry, replacing)) return { entry: undefined, current, dirty, lock: "none" };
    if (replicaKey !== undefined) this.#fill.storeReplica(replicaKey, entry!);
    this.#rememberHit(request.key);
    return { entry, current, dirty, lock: "entry" };
  }

  /**
   * The key's entry stopped being servable here (an invalidation reached L1): look it up in full
   * next time — a hot key at its replicas too (only a hot key reads them, so only it pays the hashing).
   */
  forgetHit(key: string, hot: boolean): void {
    this.#hitting.delete(key);
    if (hot) for (let replica = 1; replica < this.#parts.replicas; replica++) this.#hitting.delete(replicaKeyOf(key, replica));
  }

  /**
   * The entry of a key whose last lookup hit (a hot key's at the replica it reads, so its hits
   * spread over the replicas), read with one MGET (Versions.peek): servable exactly when
   * LOOKUP_OR_LOCK's hit path would serve it (its recorded versions are the current ones, and it
   * is within its lifetime). Resolves undefined otherwise: the caller then looks up in full, lock
   * included. Returns undefined at once for a key not expected to hit (or on a Cluster, where the
   * versions live in other slots).
   */
  peek(request: ReadRequest): Promise<DecodedEntry | undefined> | undefined {
    const { lock, l2 } = this.#parts;
    if (lock === undefined || l2 === undefined || l2.isCluster) return undefined;
    const replica = this.#replica(request);
    if (request.hot) this.#drawnReplica.set(request, replica);
    const key = replica > 0 ? replicaKeyOf(request.key, replica) : request.key;
    if (!this.#hitting.has(key)) return undefined;
    return this.#parts.versions.peek(key, request.deps).then(({ stored, current }) => {
      const entry = current === undefined ? undefined : this.#entryOf(request, key, stored, current);
      if (entry !== undefined && this.#servable(entry, -Infinity)) {
        if (replica > 0) this.#parts.counters.replicaReads++;
        return entry;
      }
      this.#hitting.delete(key);
      if (replica > 0) this.#drawnReplica.set(request, 0);
      return undefined;
    });
  }

  #rememberHit(key: string): void {
    if (this.#hitting.size >= MAX_REMEMBERED_HITS) this.#hitting.clear();
    this.#hitting.add(key);
  }

  /**
   * On a Cluster the lock lives in another slot than the versions: look up, then `SET NX`, then
   * look again under the lock (a holder that finished in between has landed the value).
   */
  async #lookupThenLock(request: ReadRequest, replacing: number, lockKey: string, ownToken: string): Promise<LockedLookup> {
    const lock = this.#parts.lock!;
    const found = await this.#lookupKey(request, request.key);
    if (this.#servable(found.entry, replacing)) return { ...found, lock: "entry" };
    // A write in progress: nothing will be stored, so nobody takes the lock (as LOOKUP_OR_LOCK).
    if (found.dirty) return { ...found, lock: "none" };
    let held: HeldLock | undefined;
    try {
      held = await lock.acquire(lockKey, this.#parts.landedMessage(request.key));
    } catch (error) {
      // The lookup worked: load by ourselves rather than fail or wait on a lock we cannot see.
      this.#fill.absorb(error);
      return { ...found, entry: undefined, lock: "none" };
    }
    if (held === undefined) return { ...found, entry: undefined, lock: ownToken === "" ? "held-elsewhere" : "held-here" };
    let again: Found;
    try {
      again = await this.#lookupKey(request, request.key);
    } catch (error) {
      this.#fill.absorb(error);
      return { ...found, entry: undefined, lock: "taken", held };
    }
    if (!again.dirty && !this.#servable(again.entry, replacing)) return { ...again, entry: undefined, lock: "taken", held };
    held.release().catch((error: unknown) => this.#fill.absorb(error));
    return { ...again, lock: again.dirty ? "none" : "entry" };
  }

  /**
   * Whether a current entry may be served: for a miss, until it is past its swr window; for a
   * refresh of an entry fresh until `replacing`, only if it is newer and still fresh.
   */
  #servable(entry: DecodedEntry | undefined, replacing: number): boolean {
    if (entry === undefined) return false;
    const now = this.#parts.clock.now();
    return replacing === -Infinity ? now < entry.staleUntil : entry.freshUntil > replacing && now < entry.freshUntil;
  }

  #replica(request: ReadRequest): number {
    if (!request.hot) return 0;
    // Counted where a replica answers (outside probe 214: counted when drawn, it exceeded the L2 hits).
    return Math.floor(this.#parts.random() * this.#parts.replicas);
  }

  async #lookupKey(request: ReadRequest, key: string): Promise<Found> {
    const { stored, current, dirty } = await this.#parts.versions.lookup(key, request.deps);
    if (dirty) return { entry: undefined, current, dirty };
    return { entry: this.#entryOf(request, key, stored, current), current, dirty };
  }

  /** The stored entry if it is intact and was recorded at the current versions, decoded. */
  #entryOf(request: ReadRequest, key: string, stored: string | null, current: readonly number[]): DecodedEntry | undefined {
    if (stored === null) return undefined;
    const entry = parseEntry(stored);
    if (entry instanceof CorruptEntry) return this.#dropCorrupt(key, stored, entry.reason);
    if (!depsAreCurrent(entry.deps, request.deps, current)) return undefined;
    const decoded = decodePayload(this.#parts.codec, entry.payload);
    if (decoded instanceof CorruptEntry) return this.#dropCorrupt(key, stored, decoded.reason);
    return { ...entry, value: decoded.value };
  }

  /** A stored value that is not an intact entry: a miss, counted, reported, and deleted (unless rewritten meanwhile). */
  #dropCorrupt(key: string, stored: string, reason: string): undefined {
    this.#parts.counters.corruptEntries++;
    this.#parts.report(new CacheError("E_CORRUPT_ENTRY", `cache entry ${key} dropped: ${reason}`));
    this.#parts.l2?.run(DELETE_IF_EQUAL, [key], [stored]).catch((error: unknown) => this.#fill.absorb(error));
    return undefined;
  }
}
