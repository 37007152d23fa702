import { randomUUID } from "node:crypto";
import type { CacheError } from "../errors.js";
import { CacheStoreError } from "../errors.js";
import { afterIoTurn, CACHE_OWN_SETTINGS, clearSocketTimerOnClose, QUIT_WAIT_MS, quitWithin, readBeforeSocketTimeout, reviveWhenEnded, sentinelOverrides } from "../stores/command-connection.js";
import { PUBLISH_FROM_NAMESPACE_NODE } from "../stores/redis-scripts.js";
import type { RedisStore } from "../stores/redis-store.js";
import { runIdOf } from "../stores/server-identity.js";
import type { RedisLike, SubscriberLike } from "../types.js";
import { schemaEpoch } from "./dependencies.js";
import { InstanceRegistry, registrationLifetimeMs, type OrphanedWrite } from "./instance-registry.js";
import { LapsedSubscribers } from "./lapsed-subscribers.js";
import { bumpCountKeyOf, bumpCountPrefixOf, versionKeyOf } from "./bump-sender.js";
import { ackMessage, channelsOf, invalidationParts, landedMessage, parseAck, parseEventMessage, unacknowledgedMessageId, wantsAck } from "./wire-format.js";

export interface BusHandlers {
  /** Another instance (or this one: `own`) bumped `names`; `seq` is what the message claims, unverified. */
  onInvalidation(seq: number, names: readonly string[], own: boolean): void;
  /** A message that does not parse (another version, a stray PUBLISH): dropped, never thrown. */
  onRejected(channel: string, message: unknown, reason: string): void;
  /** A loader stored the entry under `key` (`landed`), or loaded a result it will not cache. */
  onLanded(key: string, landed: boolean): void;
  /** The subscription went down (false) or is live again (true). */
  onTrustChange(trusted: boolean): void;
  /** The subscriber connection reached the server with this run_id (null: it could not tell), before subscribing. */
  onServer(runId: string | null): void;
  /** This instance's registration heartbeat was answered (see RegistryHandlers.onRegistered). */
  onRegistered(): void;
  /** This instance's registration bumped the schema epoch: what it cached before must not answer (see REGISTER_INSTANCE). */
  onSchemaEpochBumped(): void;
  /** Writes announced by instances that are gone, never confirmed: each to be swept with its names (see REGISTER_INSTANCE). */
  onOrphanedWrites(orphans: readonly OrphanedWrite[]): void;
  onError(error: CacheError): void;
}

/**
 * The subscriber connection's options over the user's: no automatic resubscription (the bus
 * resubscribes once it learnt the server), and — unless the user set one — a socket timeout. A
 * half-open connection (a middlebox that lost the flow, a peer gone without a FIN) answers the
 * lease heartbeat never and closes never: this instance would serve no L1 and, while the server
 * still counts it, every write in the fleet would wait a lease for it. A socket that received
 * nothing for this long after a command is dropped, and ioredis reconnects it. Behind Sentinel it
 * follows a failover when Sentinel announces it, as the command connection does.
 */
function subscriberOverrides(redis: RedisLike, leaseTtlMs: number): object {
  const userTimeout = (redis.options as { socketTimeout?: unknown } | undefined)?.socketTimeout;
  const timeout = userTimeout === undefined ? { socketTimeout: halfOpenAfterMs(leaseTtlMs) } : {};
  return { autoResubscribe: false, ...timeout, ...CACHE_OWN_SETTINGS, ...sentinelOverrides(redis) };
}

/** The options a Cluster client gives each node connection (`redisOptions`). */
function clusterNodeOptions(redis: RedisLike): { connectionName?: unknown } {
  return (redis.options as { redisOptions?: { connectionName?: unknown } } | undefined)?.redisOptions ?? {};
}

/**
 * A Cluster's subscriber connection, named through its node options: a `CLIENT SETNAME` sent to
 * a Cluster reaches some node's connection, not the subscriber's. ioredis names it
 * `ioredis-cluster(subscriber):<name>`, which LapsedSubscribers reads.
 */
function namedClusterSubscriber(redis: RedisLike, name: string): SubscriberLike {
  const override = { redisOptions: { ...clusterNodeOptions(redis), connectionName: name, ...CACHE_OWN_SETTINGS }, enableAutoPipelining: false };
  return (redis.duplicate as (startupNodes: readonly unknown[], override: object) => SubscriberLike).call(redis, [], override);
}

/** How long the subscriber waits for a reply before it drops its connection as half-open: several leases, at least 5 s. */
function halfOpenAfterMs(leaseTtlMs: number): number {
  return Math.max(5_000, 5 * leaseTtlMs);
}

/** What became of a Cluster heartbeat (see Bus.ping): it arrived, it arrived on a subscription made again since, or it never arrived. */
type HeartbeatOutcome = "arrived" | "resubscribed" | "lost";

/** Bound on the own bumps whose message is awaited (see Bus.#ownInFlight). */
const OWN_IN_FLIGHT_MAX = 10_000;

/** How soon a refused SUBSCRIBE is tried again. */
const SUBSCRIBE_RETRY_MS = 1_000;

interface AckWaiter {
  acks: number;
  expected: number | undefined;
  resolve: (complete: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The pub/sub side: one subscriber connection per extension, opened and closed by it. Carries
 * invalidations (acknowledged to their writer, so a write resolves only once every live
 * instance has applied it) and "value landed" wake-ups for fleet-wide waiters.
 */
export class Bus {
  readonly instanceId = randomUUID();
  readonly eventsChannel: string;
  /** Where others acknowledge our bumps; the bump script checks our subscription to it (see BUMP_VERSIONS). */
  readonly ownAckChannel: string;
  readonly #ackChannelOf: (instanceId: string) => string;
  readonly #store: RedisStore;
  readonly #handlers: BusHandlers;
  readonly #subscriber: SubscriberLike;
  readonly #waiters = new Map<string, AckWaiter>();
  /**
   * Ids of this instance's bumps whose message has not come back yet: when it does, it is
   * recognised as our own (applied from the script's reply, not acknowledged). An id leaves when
   * its message arrives or its script failed; a message that never arrives (a subscription lost)
   * would leave it behind, so the set is emptied when the subscription drops and when it grows
   * past OWN_IN_FLIGHT_MAX — an own message no longer recognised is only distrusted like anyone's.
   */
  readonly #ownInFlight = new Set<string>();
  #trusted = false;
  #closed = false;
  /** The subscriber connection's server and client id, as it last subscribed (see #prepareConnection). */
  #connection: { runId: string; id: string } | undefined;
  /** Whether the server refused CLIENT ID or CLIENT KILL (reported once). */
  #clientRefused = false;
  readonly #onCluster: boolean;
  readonly #leaseTtlMs: number;
  /** On a Cluster, the connection the subscription was on when it was last trusted (see #resubscribedSilently). */
  #subscribedVia: unknown;
  /** On a Cluster, the lease heartbeats published and not received yet: token → settle (see ping). */
  readonly #heartbeats = new Map<string, (outcome: HeartbeatOutcome) => void>();
  readonly #registry: InstanceRegistry;
  readonly #bumpCountKey: string;
  /** Ends the subscriber connections of instances gone without closing them (standalone and Sentinel). */
  readonly #lapsed: LapsedSubscribers;
  /**
   * Live instances by expiry: a writer waits for the acks of at least these (on a Cluster PUBLISH
   * counts one node's subscribers; anywhere it misses a subscriber Redis dropped a moment ago).
   */
  readonly registryKey: string;
  /** The live schemas (`<database>|<fingerprint>` by expiry), this instance's, and its database's epoch (see BUMP_VERSIONS). */
  readonly schemasKey: string;
  readonly schema: { member: string; databasePrefix: string; epoch: string };
  /** Writes announced and not confirmed yet, by token (see REGISTER_INSTANCE). */
  readonly pendingKey: string;

  constructor(redis: RedisLike, store: RedisStore, prefix: string, handlers: BusHandlers, leaseTtlMs: number, clientSchema: { fingerprint: string; database: string }) {
    this.registryKey = `${prefix}:instances`;
    this.#bumpCountKey = bumpCountKeyOf(prefix, this.instanceId);
    this.schemasKey = `${prefix}:schemas`;
    this.pendingKey = `${prefix}:pending`;
    this.#onCluster = redis.isCluster === true;
    this.#leaseTtlMs = leaseTtlMs;
    this.schema = { member: `${clientSchema.database}|${clientSchema.fingerprint}`, databasePrefix: `${clientSchema.database}|`, epoch: schemaEpoch(clientSchema.database) };
    const schema = { key: this.schemasKey, seenKey: `${prefix}:schemas:seen`, sequenceKey: `${prefix}:seq`, epochKey: versionKeyOf(prefix, this.schema.epoch), member: this.schema.member, databasePrefix: this.schema.databasePrefix };
    const registryKeys = { key: this.registryKey, bornKey: `${prefix}:instances:born`, leaseKey: `${prefix}:lease`, pendingKey: this.pendingKey, bumpCountPrefix: bumpCountPrefixOf(prefix) };
    this.#registry = new InstanceRegistry(store, registryKeys, this.instanceId, leaseTtlMs, schema, {
      onRegistered: () => handlers.onRegistered(),
      onEpochBumped: () => handlers.onSchemaEpochBumped(),
      onOrphanedWrites: (orphans) => handlers.onOrphanedWrites(orphans),
      onError: handlers.onError,
    });
    const given = (redis.options as { db?: unknown } | undefined)?.db;
    const db = typeof given === "number" ? given : 0;
    // Older than a registration lifetime of the fleet's longest lease (and a second): registered by now, if it can.
    this.#lapsed = new LapsedSubscribers(store, prefix, registryKeys, this.instanceId, db, () => registrationLifetimeMs(Math.max(leaseTtlMs, this.fleetLeaseMs)) + 1_000, handlers.onError);
    const channels = channelsOf(prefix, db);
    this.eventsChannel = channels.events;
    this.#ackChannelOf = channels.ackOf;
    this.ownAckChannel = channels.ackOf(this.instanceId);
    this.#store = store;
    this.#handlers = handlers;
    // It re-subscribes itself on "ready", after learning which server it reached (a Cluster's duplicate takes other arguments).
    this.#subscriber = redis.isCluster === true ? namedClusterSubscriber(redis, this.#lapsed.nameOf(this.instanceId, clusterNodeOptions(redis).connectionName)) : (redis.duplicate as (override: object) => SubscriberLike).call(redis, subscriberOverrides(redis, leaseTtlMs));
    clearSocketTimerOnClose(this.#subscriber);
    readBeforeSocketTimeout(this.#subscriber);
    reviveWhenEnded(this.#subscriber, () => this.#closed);
    this.#subscriber.on("message", (channel, message) => this.#receive(channel, message));
    this.#subscriber.on("ready", () => this.#subscribe());
    for (const event of ["close", "end", "reconnecting"] as const) this.#subscriber.on(event, () => this.#setTrusted(false));
    this.#subscriber.on("error", (error) => handlers.onError(new CacheStoreError("SUBSCRIBE", error.message, { cause: error })));
    if (this.#subscriber.status === "ready") this.#subscribe();
    // A lazyConnect client's duplicate waits for a first command: connect it now.
    else if (this.#subscriber.status === "wait") this.#subscriber.connect().catch((error: Error) => handlers.onError(new CacheStoreError("CONNECT", error.message, { cause: error })));
  }

  /** Resolves true once the subscription is live and `also()` holds, or false after `timeoutMs`. */
  async live(timeoutMs: number, also: () => boolean = () => true): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    const ready = () => this.#trusted && also();
    while (!ready() && !this.#closed && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    return ready();
  }

  /** True while the subscription is live: only then may L1 serve entries. */
  get trusted(): boolean {
    return this.#trusted;
  }

  /**
   * The L1 lease's heartbeat: it succeeds only once every message published before it has been
   * received. On one server, a PING on the subscriber connection: its reply comes after every
   * message Redis published before it processed the PING.
   *
   * On a Cluster a PING would go to some node's command connection and prove nothing about the
   * subscription, whose node may no longer hear the cluster bus (an outside probe reset the node:
   * the subscription stayed open and silent, the lease kept renewing, and L1 served rows 21 s
   * after writes resolved). There the heartbeat is a message to this instance's own channel,
   * published from the namespace's node as invalidations are, and it succeeds when it arrives. One
   * that does not arrive within a lease means the subscription is deaf: it is made again.
   */
  ping(): Promise<unknown> {
    return this.#onCluster ? this.#heartbeatThroughBus() : this.#pingSubscriber();
  }

  /**
   * A PING on the subscriber connection, which is dropped (and reconnects) when the reply has not
   * come within its socket timeout. ioredis's own timer cannot tell: it waits for *any* data, and
   * a connection that still receives but no longer sends — the other direction lost — gets every
   * invalidation the fleet publishes, each of which re-arms it (outside probe 153: such an instance
   * served no L1 for as long as the fleet kept writing). As with that timer, the decision is taken
   * after one turn of I/O (afterIoTurn), so a stall of this process does not drop a reply waiting unread.
   */
  #pingSubscriber(): Promise<unknown> {
    const connection = this.#subscriber as SubscriberLike & { stream?: { destroy(error: Error): void }; options?: { socketTimeout?: number } };
    const stream = connection.stream;
    const deadlineMs = connection.options?.socketTimeout || halfOpenAfterMs(this.#leaseTtlMs);
    let answered = false;
    const timer = afterIoTurn(deadlineMs, () => {
      if (answered || this.#closed || connection.stream !== stream) return;
      stream?.destroy(new Error(`lease heartbeat unanswered for ${deadlineMs} ms: the connection no longer sends`));
    });
    timer.unref();
    const reply = connection.ping();
    const settle = () => {
      answered = true;
      clearTimeout(timer);
    };
    reply.then(settle, settle);
    return reply;
  }

  async #heartbeatThroughBus(): Promise<void> {
    const token = randomUUID();
    let settle: (outcome: HeartbeatOutcome) => void = () => {};
    const outcome = new Promise<HeartbeatOutcome>((resolve) => (settle = resolve));
    this.#heartbeats.set(token, settle);
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.#store.runUnverified(PUBLISH_FROM_NAMESPACE_NODE, [this.registryKey], [this.ownAckChannel, ackMessage(token)]);
      // Counted from when Redis took it: a slow reply is Redis's delay, not the subscription's.
      timer = setTimeout(() => settle("lost"), this.#leaseTtlMs);
      timer.unref();
      const settled = await outcome;
      if (settled === "arrived") return;
      // The subscription was made again meanwhile (and trusted anew, without this heartbeat's renewal).
      if (settled === "resubscribed") throw new Error("the subscription was made again on another node: L1 was flushed");
    } finally {
      clearTimeout(timer);
      this.#heartbeats.delete(token);
    }
    this.reconnect();
    // The lease reports it (as a failed heartbeat, once per outage).
    throw new Error(`published ${this.#leaseTtlMs} ms ago, it never arrived on the subscription (its node no longer hears the cluster's messages?): subscribing again`);
  }

  /** The message a bump publishes, around the sequence number the script inserts (see wire-format.ts). */
  invalidationMessage(messageId: string, names: readonly string[]): { prefix: string; suffix: string } {
    return invalidationParts(this.instanceId, messageId, names);
  }

  landedMessage(key: string): string {
    return landedMessage(key, true);
  }

  /** Tells waiters the holder is done but stored nothing they could read: they load by themselves. */
  nothingLandedMessage(key: string): string {
    return landedMessage(key, false);
  }

  /**
   * A new bump's message id, registered before the message is sent: its message is recognised
   * as our own when it comes back, and acknowledgements of it are counted. `acknowledged: false`
   * (a write's announcement) asks the other instances not to acknowledge it at all.
   */
  expectAcks(acknowledged = true): { messageId: string; wait(expected: number, timeoutMs: number): Promise<boolean>; cancel(): void } {
    const messageId = acknowledged ? randomUUID() : unacknowledgedMessageId();
    if (this.#ownInFlight.size >= OWN_IN_FLIGHT_MAX) this.#ownInFlight.clear();
    this.#ownInFlight.add(messageId);
    const waiter: AckWaiter = { acks: 0, expected: undefined, resolve: () => {}, timer: undefined };
    const done = new Promise<boolean>((resolve) => (waiter.resolve = resolve));
    if (acknowledged) this.#waiters.set(messageId, waiter);
    const finish = (complete: boolean) => {
      clearTimeout(waiter.timer);
      this.#waiters.delete(messageId);
      waiter.resolve(complete);
    };
    return {
      messageId,
      wait: (expected, timeoutMs) => {
        waiter.expected = expected;
        if (waiter.acks >= expected) finish(true);
        else waiter.timer = setTimeout(() => finish(false), timeoutMs);
        return done;
      },
      cancel: () => {
        // The script failed: its reply was not applied, so a message that still arrives is distrusted like anyone's.
        this.#ownInFlight.delete(messageId);
        finish(false);
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#setTrusted(false);
    // This instance's count of its bumps (see ROLLBACK_CHECK, stopped before this): nobody reads it any more.
    await this.#store.deleteKey(this.#bumpCountKey).catch(() => {});
    for (const waiter of this.#waiters.values()) waiter.resolve(false);
    this.#waiters.clear();
    for (const settle of this.#heartbeats.values()) settle("lost");
    await quitWithin(this.#subscriber, QUIT_WAIT_MS);
  }

  /** Forces a new subscriber connection (it reached another server than the commands: a failover seen by one side only). */
  reconnect(): void {
    if (this.#closed) return;
    // On a Cluster, end only the subscription's own connection: ioredis picks another node and
    // subscribes again (noticed at the next heartbeat, see #subscribedVia). Reconnecting the whole
    // duplicate orphans one of its node connections, which then keeps the process alive after
    // close() (an outside probe).
    const subscription = this.#clusterSubscription();
    if (subscription !== undefined) subscription.disconnect();
    else this.#subscriber.disconnect(true);
  }

  /**
   * On a Cluster, the connection ioredis subscribes on (an internal of its Cluster, read only to
   * tell whether it changed; undefined where ioredis lacks it, and on a single server).
   */
  #clusterSubscription(): { disconnect(): void } | undefined {
    if (!this.#onCluster) return undefined;
    const inner = (this.#subscriber as { subscriber?: { getInstance?(): unknown } }).subscriber;
    const connection = typeof inner?.getInstance === "function" ? inner.getInstance() : undefined;
    return typeof connection === "object" && connection !== null && typeof (connection as { disconnect?: unknown }).disconnect === "function" ? (connection as { disconnect(): void }) : undefined;
  }

  /**
   * ioredis replaces a Cluster's ended subscriber connection silently (another node, the same
   * channels, no event): messages published meanwhile are lost, yet heartbeats sent after it
   * arrive (an outside probe: 31 stale reads while subscriber connections were being killed). A
   * heartbeat that arrives on another connection than the one trusted therefore renews nothing: the
   * subscription counts as dropped and made again, which flushes L1.
   */
  #resubscribedSilently(): void {
    this.#setTrusted(false);
    this.#subscribedVia = this.#clusterSubscription();
    this.#setTrusted(!this.#closed);
  }

  /**
   * After a write some instance did not acknowledge: ends the subscriber connections of instances
   * whose registration lapsed (a host gone without closing them), in the background (LapsedSubscribers).
   */
  endLapsedSubscribers(): void {
    if (!this.#closed) this.#lapsed.sweep();
  }

  /** Whether Redis must hold this instance's registration when it ran a command answered by `at` (see InstanceRegistry.standsAt). */
  registrationStandsAt(at: number): boolean {
    return this.#registry.standsAt(at);
  }

  /** Whether this instance's registration still stands in Redis (see InstanceRegistry.current). */
  get registered(): boolean {
    return this.#registry.current;
  }

  /** Whether Redis refused this instance's last registration heartbeat (see InstanceRegistry.refused). */
  get registrationRefused(): boolean {
    return this.#registry.refused;
  }

  /** Until when (monotonic ms) this instance's registration stands in Redis at least (see InstanceRegistry.standsUntil). */
  get registeredUntil(): number {
    return this.#registry.standsUntil;
  }

  /** Whether instances of another schema were live at the last registration heartbeat (undefined before the first was answered). */
  get schemasDiffer(): boolean | undefined {
    return this.#registry.schemasDiffer;
  }

  /** The longest L1 lease of the live instances (this one's at least): how long a write waits for one that did not acknowledge. */
  get fleetLeaseMs(): number {
    return this.#registry.fleetLeaseMs;
  }

  #subscribe(): void {
    // Closed meanwhile: a command sent after QUIT is never answered, and the socket timeout ioredis
    // arms for it would keep the process alive that long (5 s, found by an outside probe).
    if (this.#closed) return;
    this.#serverRunId()
      .then(async (runId) => {
        if (this.#closed) return;
        this.#handlers.onServer(runId);
        await this.#prepareConnection(runId);
        if (this.#closed) return;
        await this.#subscriber.subscribe(this.eventsChannel, this.ownAckChannel);
      })
      .then(
        () => {
          this.#subscribedVia = this.#clusterSubscription();
          this.#setTrusted(!this.#closed);
        },
        (error: Error) => {
          this.#handlers.onError(new CacheStoreError("SUBSCRIBE", error.message, { cause: error }));
          // Refused on a live connection (an ACL without the channels, for now): no "ready" will
          // come to try again, and without a subscription this instance serves no L1 and every
          // write waits a lease for it. Try again until it is taken.
          setTimeout(() => {
            if (!this.#closed && !this.#trusted && this.#subscriber.status === "ready") this.#subscribe();
          }, SUBSCRIBE_RETRY_MS).unref();
        },
      );
  }

  /**
   * A subscriber connection this instance gave up on — a half-open one, whose socket timed out
   * here — may still stand in the server, which then keeps counting it among PUBLISH's receivers:
   * every write in the fleet would wait a lease for an acknowledgement it never sends. On the same
   * server (the same run_id: client ids are unique per run, never another client's), the new
   * connection ends the previous one by its id before subscribing. It also names itself, so that
   * other instances can end it if this one vanishes without closing it (LapsedSubscribers).
   */
  async #prepareConnection(runId: string | null): Promise<void> {
    const call = this.#subscriber.call;
    // A Cluster routes each command to some node: CLIENT KILL could reach another node than CLIENT ID, and end a stranger.
    if (call === undefined || this.#onCluster) return;
    try {
      const id = String(await call.call(this.#subscriber, "CLIENT", "ID"));
      const previous = this.#connection;
      this.#connection = runId === null ? undefined : { runId, id };
      if (previous !== undefined && previous.runId === runId && previous.id !== id) {
        await call.call(this.#subscriber, "CLIENT", "KILL", "ID", previous.id).catch((error: unknown) => {
          // "No such client": it closed as connections do, nothing to end.
          if (/^NOPERM/.test(String((error as Error)?.message))) throw error;
        });
      }
      await call.call(this.#subscriber, "CLIENT", "SETNAME", this.#lapsed.nameOf(this.instanceId, (this.#subscriber as { options?: { connectionName?: unknown } }).options?.connectionName));
    } catch (error) {
      // "No such client" (it closed as connections do): nothing to end. An ACL without CLIENT is
      // said once: a half-open subscription then stands until the server's keepalive drops it.
      if (!/^NOPERM/.test(String((error as Error)?.message)) || this.#clientRefused) return;
      this.#clientRefused = true;
      this.#handlers.onError(new CacheStoreError("CLIENT", `${(error as Error).message}: grant +client so that a subscriber connection this instance replaced can be ended; until the server drops it, every write waits a lease for it`, { cause: error }));
    }
  }

  /** INFO on the subscriber connection before it subscribes (not allowed after); null if it cannot tell. */
  async #serverRunId(): Promise<string | null> {
    if (this.#subscriber.info === undefined) return null;
    try {
      return runIdOf(await this.#subscriber.info("server"));
    } catch {
      return null;
    }
  }

  #setTrusted(trusted: boolean): void {
    if (this.#trusted === trusted) return;
    this.#trusted = trusted;
    // Messages in flight when the subscription dropped are lost: stop waiting for our own.
    if (!trusted) this.#ownInFlight.clear();
    this.#registry.live = trusted;
    this.#handlers.onTrustChange(trusted);
  }

  #receive(channel: string, message: string): void {
    if (channel === this.ownAckChannel) return this.#receiveAck(message);
    const parsed = parseEventMessage(message);
    if (parsed.kind === "rejected") return this.#handlers.onRejected(channel, message, parsed.reason);
    if (parsed.kind === "landed") return this.#handlers.onLanded(parsed.key, parsed.landed);
    const { writer, messageId } = parsed;
    // Our own bump was applied from the script's reply (a Redis answer, not a claim) — unless
    // its id is no longer in flight (its script failed, or we stopped waiting): then distrust it.
    const mine = writer === this.instanceId;
    this.#handlers.onInvalidation(parsed.seq, parsed.names, mine && this.#ownInFlight.delete(messageId));
    // Never acknowledge our own bumps: the script did not count us among the receivers (see
    // BUMP_VERSIONS), and an acknowledgement from us would stand in for another instance's.
    if (mine || !wantsAck(messageId)) return;
    // Acknowledge after applying: the writer resolves only when every instance has done so.
    this.#acknowledge(writer, messageId);
  }

  /**
   * On a Cluster through the namespace's node, as heartbeats are: a keyless `PUBLISH` goes to any
   * node of the client's pool, and one removed from the cluster (`--cluster del-node`, reset but
   * still running) stays there until the slots are next refreshed — acknowledgements sent to it
   * reached nobody (outside probe 210: a third of writes waited the whole lease, for as long as it ran).
   */
  #acknowledge(writer: string, messageId: string): void {
    const [channel, message] = [this.#ackChannelOf(writer), ackMessage(messageId)];
    const sent = this.#store.isCluster ? this.#store.runUnverified(PUBLISH_FROM_NAMESPACE_NODE, [this.registryKey], [channel, message]) : this.#store.publish(channel, message);
    sent.catch((error: unknown) => {
      this.#handlers.onError(error instanceof CacheStoreError ? error : new CacheStoreError("PUBLISH", String(error)));
    });
  }

  #receiveAck(message: string): void {
    const messageId = parseAck(message);
    if (typeof messageId !== "string") return this.#handlers.onRejected(this.ownAckChannel, message, messageId.reason);
    const heartbeat = this.#heartbeats.get(messageId);
    if (heartbeat !== undefined) {
      // Renews the lease only if the subscription was not made again since it was trusted (see #subscribedVia).
      if (this.#clusterSubscription() === this.#subscribedVia) return heartbeat("arrived");
      this.#resubscribedSilently();
      return heartbeat("resubscribed");
    }
    const waiter = this.#waiters.get(messageId);
    if (waiter === undefined) return;
    waiter.acks++;
    if (waiter.expected !== undefined && waiter.acks >= waiter.expected) {
      clearTimeout(waiter.timer);
      this.#waiters.delete(messageId);
      waiter.resolve(true);
    }
  }
}
