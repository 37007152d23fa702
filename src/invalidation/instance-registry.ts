import { CacheStoreError, type CacheError } from "../errors.js";
import { LEASE_TTL_RANGE } from "../options.js";
import type { RedisStore, RegistryKeys, SchemaRegistration } from "../stores/redis-store.js";

/** How often a live instance renews its registration (one script: ZADD, ZREMRANGEBYSCORE, the fleet's longest lease). */
export const REGISTRATION_HEARTBEAT_MS = 1_000;

/**
 * How long a registration outlives the heartbeat that wrote it. An instance may answer from L1
 * until `leaseTtlMs` after its last lease PING was sent, and that PING went out at most one
 * heartbeat after its last registration (both are timers on one event loop: a loop too busy to
 * renew its registration sends no PING either), so the registration must outlast
 * heartbeat + lease; one more heartbeat absorbs a late timer and clock skew between instances.
 * A crashed instance is thus waited for (up to `leaseTtlMs` per write) for at most this long.
 */
export function registrationLifetimeMs(leaseTtlMs: number): number {
  return 2 * REGISTRATION_HEARTBEAT_MS + leaseTtlMs;
}

/**
 * How long a registration regained after a lapse serves nothing cached. Redis may have refused
 * the fleet's writes meanwhile (unreachable, or refusing writes only: `NOREPLICAS`, `MISCONF`, an
 * ACL) while this instance's L1 and Redis's entries kept what those writes changed; a writer whose
 * invalidation Redis did not take resolved after `redisDownWriteWait` and delivers it once its own
 * next heartbeat succeeds (at most a heartbeat later, see RegistryHandlers.onRegistered), then
 * its message a round trip after that.
 */
export const REGAINED_QUIET_MS = 1.5 * REGISTRATION_HEARTBEAT_MS;

/** A write announced by an instance that is gone and never confirmed (see REGISTER_INSTANCE). */
export interface OrphanedWrite {
  token: string;
  /** What to sweep it with: its models' generations (see Versions.sweep). */
  names: string[];
}

export interface RegistryHandlers {
  /** A heartbeat was answered: Redis takes writes, so invalidations it refused before may be delivered now. */
  onRegistered(): void;
  /** This instance's registration bumped the schema epoch (its schema joined a fleet of another). */
  onEpochBumped(): void;
  onOrphanedWrites(orphans: readonly OrphanedWrite[]): void;
  onError(error: CacheError): void;
}

/**
 * This instance's entry in `{ns}:instances` (a sorted set by expiry, in the registering
 * instance's wall clock): present while its subscription is live, so a writer counts it even
 * when Redis dropped its subscriber connection and PUBLISH no longer reaches it.
 */
export class InstanceRegistry {
  readonly #store: RedisStore;
  readonly #keys: RegistryKeys;
  readonly #member: string;
  readonly #leaseTtlMs: number;
  readonly #lifetimeMs: number;
  /** The longest L1 lease of any live instance, as the last heartbeat read it (at least this one's). */
  #fleetLeaseMs: number;
  readonly #schema: SchemaRegistration;
  readonly #handlers: RegistryHandlers;
  /** How many schemas the last heartbeat found live (more than one: a rolling deploy of a schema change); undefined before the first. */
  #schemas: number | undefined;
  /** When the last registration Redis answered was sent (monotonic ms): it stands in Redis until at least then + lifetime. */
  #registeredSentAt: number | undefined;
  /** When `live` was last set: a heartbeat sent before it may have been undone since (left, then joined again). */
  #joinedAt = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  /** One report per run of failures: a Redis outage is reported by the connection itself too. */
  #failing = false;
  /** Set while a registration regained after a lapse serves nothing cached (REGAINED_QUIET_MS). */
  #quiet: NodeJS.Timeout | undefined;
  /** Redis refused a heartbeat before any was answered: an instance started while Redis refuses writes is not registered either. */
  #refusedBeforeRegistering = false;
  /** The last heartbeat was refused by Redis (a reply, not a timeout). */
  #refused = false;

  constructor(store: RedisStore, keys: RegistryKeys, member: string, leaseTtlMs: number, schema: SchemaRegistration, handlers: RegistryHandlers) {
    this.#store = store;
    this.#keys = keys;
    this.#member = member;
    this.#leaseTtlMs = leaseTtlMs;
    this.#fleetLeaseMs = leaseTtlMs;
    this.#lifetimeMs = registrationLifetimeMs(leaseTtlMs);
    this.#schema = schema;
    this.#handlers = handlers;
  }

  /** Registers now and every heartbeat while `live`; otherwise leaves at once (writers stop counting it). */
  set live(live: boolean) {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#joinedAt = performance.now();
    // A quiet period outlives a resubscription: what it waits for (other writers' deliveries) does not move with it.
    if (!live) {
      this.#settle(this.#store.removeFromRegistry(this.#keys.key, this.#member), "ZREM");
      return;
    }
    const beat = () => {
      const sentAt = performance.now();
      // Until one was answered, this instance's registrations are its first (see REGISTER_INSTANCE: they sweep orphaned writes).
      const registered = this.#store.addToRegistry(this.#keys, this.#member, this.#leaseTtlMs, this.#lifetimeMs, REGISTRATION_HEARTBEAT_MS, this.#schema, this.#registeredSentAt === undefined);
      this.#settle(
        registered.then(
          (reply) => this.#renewed(sentAt, reply),
          (error: unknown) => {
            // Refused (NOREPLICAS, MISCONF, READONLY), not merely late: a timeout at start-up is no reason to serve nothing.
            const replied = (error as { cause?: { name?: unknown } }).cause?.name === "ReplyError";
            this.#refused = replied;
            if (this.#registeredSentAt === undefined && replied) this.#refusedBeforeRegistering = true;
            throw error;
          },
        ),
        "EVALSHA",
      );
    };
    beat();
    this.#heartbeat = setInterval(beat, REGISTRATION_HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /** A heartbeat sent at `sentAt` was answered. */
  #renewed(sentAt: number, { longestLeaseMs, schemas, epochBumped, orphans }: Awaited<ReturnType<RedisStore["addToRegistry"]>>): void {
    if (this.#lapsedBefore(sentAt)) this.#quietAfterLapse();
    this.#refusedBeforeRegistering = false;
    this.#refused = false;
    this.#registeredSentAt = Math.max(this.#registeredSentAt ?? sentAt, sentAt);
    // Nothing read from Redis is trusted: no instance's lease is longer than the option allows (a
    // foreign or corrupt value made a write wait forever, re-arming an overflowing timer: outside probe 159).
    if (Number.isFinite(longestLeaseMs)) this.#fleetLeaseMs = Math.max(this.#leaseTtlMs, Math.min(longestLeaseMs, LEASE_TTL_RANGE[1]));
    if (Number.isSafeInteger(schemas)) this.#schemas = schemas;
    if (epochBumped) this.#handlers.onEpochBumped();
    const orphaned = orphanedWrites(orphans);
    if (orphaned.length > 0) this.#handlers.onOrphanedWrites(orphaned);
    this.#handlers.onRegistered();
  }

  /** Whether Redis refused the last registration heartbeat (NOREPLICAS, MISCONF, READONLY): waiting for one to be answered is pointless until it takes writes. */
  get refused(): boolean {
    return this.#refused;
  }

  /**
   * How long a writer waits for an instance that did not acknowledge: the longest L1 lease in the
   * fleet (instances sharing a namespace may be configured differently: a rolling deploy).
   */
  get fleetLeaseMs(): number {
    return this.#fleetLeaseMs;
  }

  /**
   * False once this instance's registration may have lapsed in Redis (a process frozen or starved
   * longer than a registration lifetime, or Redis unreachable that long): writes no longer count
   * it, so a write by an instance of another schema did not bump the epoch it reads at, and what
   * it cached may be stale by names it does not know. It serves nothing cached until registered
   * again (whose registration bumps the epoch if another schema is live). True before the first
   * registration (what an instance loads before it is fenced by that registration's bump), unless
   * a heartbeat failed meanwhile. False, too, for REGAINED_QUIET_MS after a lapsed registration
   * (or a first one after failures) is renewed.
   */
  get current(): boolean {
    return performance.now() < this.standsUntil;
  }

  /**
   * Until when (monotonic ms) the registration stands in Redis at least; Infinity before the
   * first, -Infinity while a registration regained after a lapse is quiet (see current).
   */
  get standsUntil(): number {
    if (this.#quiet !== undefined) return -Infinity;
    if (this.#registeredSentAt === undefined) return this.#refusedBeforeRegistering ? -Infinity : Infinity;
    return this.#registeredSentAt + this.#lifetimeMs;
  }

  /**
   * Whether Redis must hold this registration when it ran a command answered by `at` (monotonic
   * ms): live, renewed by a heartbeat sent since it joined, and `at` within a lifetime of that
   * heartbeat's sending (Redis processed it later, and counts the lifetime from then).
   */
  standsAt(at: number): boolean {
    const renewed = this.#registeredSentAt;
    return this.#heartbeat !== undefined && renewed !== undefined && renewed >= this.#joinedAt && at < renewed + this.#lifetimeMs;
  }

  /**
   * Whether the registration may have lapsed in Redis before a heartbeat sent at `sentAt` renewed
   * it: it was sent a lifetime after the last answered one or later (by when it was sent, not
   * answered: an event loop that stalled after sending it has not lapsed), or none was answered
   * yet and one failed.
   */
  #lapsedBefore(sentAt: number): boolean {
    if (this.#registeredSentAt === undefined) return this.#refusedBeforeRegistering;
    return sentAt >= this.#registeredSentAt + this.#lifetimeMs;
  }

  /** The registration lapsed and is back: nothing cached answers for REGAINED_QUIET_MS more. */
  #quietAfterLapse(): void {
    if (this.#quiet !== undefined) return;
    this.#quiet = setTimeout(() => (this.#quiet = undefined), REGAINED_QUIET_MS);
    this.#quiet.unref();
  }

  /** Whether the last heartbeat found instances of another schema live in the namespace; undefined before it was answered. */
  get schemasDiffer(): boolean | undefined {
    return this.#schemas === undefined ? undefined : this.#schemas > 1;
  }

  #settle(done: Promise<void>, command: string): void {
    done.then(
      () => (this.#failing = false),
      (error: unknown) => {
        if (this.#failing) return;
        this.#failing = true;
        this.#handlers.onError(error instanceof CacheStoreError ? error : new CacheStoreError(command, String(error), { cause: error }));
      },
    );
  }
}

/**
 * The orphans a heartbeat returned (token, names JSON, …). Anyone able to write the hash could
 * plant a record: one that does not parse is skipped, and one that does can only make this
 * instance over-invalidate.
 */
function orphanedWrites(reply: unknown): OrphanedWrite[] {
  if (!Array.isArray(reply)) return [];
  const orphans: OrphanedWrite[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const [token, names] = [reply[i], reply[i + 1]];
    if (typeof token !== "string" || typeof names !== "string") continue;
    try {
      const parsed: unknown = JSON.parse(names);
      if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((name) => typeof name === "string")) orphans.push({ token, names: parsed as string[] });
    } catch {
      // Not JSON: skipped (see above).
    }
  }
  return orphans;
}
