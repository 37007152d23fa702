import { CacheError, CacheStoreError } from "../errors.js";
import { BUMP_VERSIONS } from "../stores/redis-scripts.js";
import { batchesOf } from "./bump-batches.js";
import type { DistrustLedger } from "./distrust-ledger.js";
import { registrationLifetimeMs } from "./instance-registry.js";
import { waitUntilLapsed } from "./lease.js";
import type { VersionsOptions } from "./versions.js";

/**
 * Which version names expire ('1', as tags do) in Redis: record identities, user tags, and a
 * database's schema epoch — one per database, so a database dropped (a tenant's, a preview's)
 * leaves nothing behind (outside probe 136). Model generations do not expire: a few per model.
 */
export const expiryFlag = (name: string) => (name.startsWith("t:") || name.startsWith("u:") || name.startsWith("s:") ? "1" : "0");

/** The Redis key of a version name. */
export const versionKeyOf = (prefix: string, name: string) => `${prefix}:v:${name}`;

/** The Redis key counting the bumps Redis took from one instance (see ROLLBACK_CHECK). */
export const bumpCountPrefixOf = (prefix: string) => `${prefix}:bumps:`;
export const bumpCountKeyOf = (prefix: string, instanceId: string) => bumpCountPrefixOf(prefix) + instanceId;

/** How a bump treats dirty marks: none, announce a write (`set`), or confirm one (`clear`). */
export type MarkMode = "" | "set" | "clear";

/**
 * What a bump does to the pending writes (see REGISTER_INSTANCE): records an announced write with
 * the names to sweep it with (`add`), removes it (`del`: confirmed, withdrawn, or marked as of
 * unknown outcome already), or sweeps an orphaned one (`sweep`: only while its record stands).
 */
export type PendingOp = { op: "" } | { op: "add"; sweepWith: readonly string[] } | { op: "del" } | { op: "sweep" };

const NO_PENDING: PendingOp = { op: "" };

/** What the sender tells Versions about a batch. */
interface BumpListener {
  /** Redis took the batch: its sequence number, its names, and when its request was sent. */
  applied(seq: number, names: readonly string[], sentAt: number): void;
  /**
   * Every instance applied an acknowledged batch sent at `sentMs` (performance.now()), or must
   * have lost its L1 lease: an invalidation of these names queued before then needs no retry,
   * and a write waiting for its delivery may resolve. Not called for an announcement or a fence,
   * which nobody acknowledges: taken by Redis, they may not have reached another instance's L1 yet.
   */
  delivered(names: readonly string[], sentMs: number): void;
}

/**
 * Bumps in Redis: one Lua script per bounded batch bumps the names, sets or clears a write's dirty
 * marks, adds Bloom identities and publishes the invalidation; then every live instance's
 * acknowledgement is awaited (or the L1 lease of one that did not answer must have lapsed).
 */
export class BumpSender {
  readonly #options: VersionsOptions;
  readonly #redis: NonNullable<VersionsOptions["redis"]>;
  readonly #ledger: DistrustLedger;
  readonly #listener: BumpListener;
  /** The highest count of this instance's bumps Redis reported (see ROLLBACK_CHECK); 0 before the first. A fence raises Redis's count to it (see RAISE_SEQUENCE). */
  #bumpsTaken = 0;
  /** Until when (performance.now()) a Cluster bump's count of receivers is not trusted (see registryMayBeLost). */
  #receiversUnknownUntil = -Infinity;

  constructor(options: VersionsOptions, redis: NonNullable<VersionsOptions["redis"]>, ledger: DistrustLedger, listener: BumpListener) {
    this.#options = options;
    this.#redis = redis;
    this.#ledger = ledger;
    this.#listener = listener;
  }

  /** The highest count of this instance's bumps Redis reported: the keys never hold fewer unless they went back. */
  get bumpsTaken(): number {
    return this.#bumpsTaken;
  }

  /**
   * The namespace's keys went back on a Cluster (a flush of its shard, a failover without the last
   * writes): the registry of live instances went with them. A bump counts its receivers from that
   * registry, PUBLISH reaching only the subscribers of the namespace's node: until each instance's
   * heartbeat registered it again — or its registration lapsed in its own eyes, after which it
   * serves nothing from L1 — a write could resolve before instances subscribed elsewhere applied
   * it, and they served the old rows from L1 meanwhile. Bumps answered until then wait out the
   * lease instead.
   */
  registryMayBeLost(): void {
    const { bus } = this.#redis;
    this.#receiversUnknownUntil = Math.max(this.#receiversUnknownUntil, performance.now() + registrationLifetimeMs(Math.max(this.#options.leaseTtlMs, bus.fleetLeaseMs)));
  }

  /**
   * Bumps `list` in batches of bounded size (each batch atomic, the whole not) and waits for the
   * acknowledgements of all of them; false as soon as a batch fails (later ones are not sent).
   * `pending`: what the bump does to the write's pending record (a clearing bump removes it).
   * `onTaken`: called once Redis took every batch, before the acknowledgements are awaited.
   */
  async send(list: readonly string[], markMode: MarkMode, token = "", addsIdentities = true, markTtlMs?: number, pending?: PendingOp, onTaken?: () => void): Promise<boolean> {
    return (await this.#sendAll(list, markMode, token, addsIdentities, markTtlMs, pending ?? (markMode === "clear" ? { op: "del" } : NO_PENDING), onTaken)) !== "failed";
  }

  /**
   * Sweeps an orphaned write (see REGISTER_INSTANCE): bumps and marks `list` with its token for
   * `markTtlMs`, unless its pending record is gone ("gone": swept by another instance first, or confirmed).
   */
  sweep(list: readonly string[], token: string, markTtlMs: number): Promise<"sent" | "gone" | "failed"> {
    return this.#sendAll(list, "set", token, false, markTtlMs, { op: "sweep" });
  }

  async #sendAll(list: readonly string[], markMode: MarkMode, token: string, addsIdentities: boolean, markTtlMs: number | undefined, pending: PendingOp, onTaken?: () => void): Promise<"sent" | "gone" | "failed"> {
    const waits: Array<Promise<boolean>> = [];
    let op = pending;
    for (const batch of batchesOf(list)) {
      const sent = await this.#sendBatch(batch, markMode, token, addsIdentities, undefined, markTtlMs, op);
      if (sent === undefined) return "failed";
      if (sent.skipped) return "gone";
      // The sweep's first batch removed the record: the rest of it runs unconditionally.
      if (op.op === "sweep") op = NO_PENDING;
      waits.push(sent.acks);
    }
    // Redis took every batch: what is left is waiting for the other instances (or their leases).
    onTaken?.();
    await Promise.all(waits);
    return "sent";
  }

  /**
   * A fence on a server that may lack the last bumps (see ServerIdentity): bumps `list` without
   * waiting for acknowledgements; `publish` false bumps silently (no instance trusts this server
   * yet, so none has anything to drop). Not counted as invalidations sent. False if Redis did not take it.
   */
  async fence(list: readonly string[], publish: boolean): Promise<boolean> {
    // The count goes on from the highest Redis reported (raised there first: see RAISE_SEQUENCE).
    for (const batch of batchesOf(list)) {
      if ((await this.#sendBatch(batch, "", "", false, publish ? "fence" : "silent")) === undefined) return false;
    }
    return true;
  }

  async #sendBatch(list: readonly string[], markMode: MarkMode, token: string, addsIdentities: boolean, fence?: "fence" | "silent", markTtlMs?: number, pending: PendingOp = NO_PENDING): Promise<{ acks: Promise<boolean>; skipped?: true } | undefined> {
    const { store, bus, prefix } = this.#redis;
    const counters = this.#options.counters;
    // An announcement is not acknowledged (see WriteAnnouncer.confirm for why none is needed), nor is a fence.
    const acknowledged = markMode !== "set" && fence === undefined;
    // Acknowledgements come to our subscriber: one published before it subscribed is lost, and the
    // write would wait out the lease instead (a write right after start-up, or after a reconnection).
    // So wait for the subscription first, no longer than that lease — unless the commands cannot
    // reach Redis either (an outage: the bump is queued at once, and its lease wait starts now).
    if (acknowledged && !bus.trusted && store.connected) await bus.live(this.#options.leaseTtlMs);
    const acks = bus.expectAcks(acknowledged);
    const { prefix: messagePrefix, suffix } = bus.invalidationMessage(acks.messageId, list);
    const channel = fence === "silent" ? "" : bus.eventsChannel;
    let reply: unknown;
    const sentMs = performance.now();
    const sentAt = this.#ledger.begin();
    try {
      // Only a write that may have created identities adds to the Bloom filters: an update by a
      // unique key re-bumps identities the filters already hold (or the filter is suspended).
      const groups = addsIdentities ? (this.#options.bloomGroups?.(list) ?? []) : [];
      const keys = [`${prefix}:seq`, bus.registryKey, `${prefix}:lifetime`, ...list.map((name) => versionKeyOf(prefix, name)), ...groups.flatMap((group) => group.keys), bumpCountKeyOf(prefix, bus.instanceId), bus.pendingKey, bus.schemasKey, versionKeyOf(prefix, bus.schema.epoch)];
      const expiring = list.map(expiryFlag);
      const items = groups.flatMap((group) => [group.items.length, ...group.items]);
      const countRegistered = "1";
      const marks = [markMode, token, markTtlMs ?? this.#options.markTtlMs ?? this.#options.tagTtlMs];
      const own = [bus.ownAckChannel, bus.instanceId];
      const sweepWith = pending.op === "add" ? JSON.stringify(pending.sweepWith) : "";
      reply = await store.runPastCircuit(BUMP_VERSIONS, keys, [channel, messagePrefix, suffix, this.#options.tagTtlMs, list.length, groups.length, countRegistered, ...marks, ...own, ...expiring, ...items, pending.op, sweepWith, bus.schema.epoch, bus.schema.member, bus.schema.databasePrefix]);
    } catch (error) {
      acks.cancel();
      this.#options.report(error instanceof CacheError ? error : new CacheStoreError("EVALSHA", String(error)));
      return undefined;
    } finally {
      this.#ledger.end(sentAt);
    }
    const parsed = parseBumpReply(reply);
    if (parsed === undefined) {
      // Nothing read from Redis is trusted: a reply of another shape (a proxy that mixed replies up) is a failed bump.
      acks.cancel();
      this.#options.report(new CacheStoreError("EVALSHA", `BUMP_VERSIONS answered ${describeReply(reply)}, not its five numbers`));
      return undefined;
    }
    const { seq, receivers, mixed, bumps, ownStands } = parsed;
    if (seq === -1) {
      acks.cancel();
      return { acks: Promise.resolve(true), skipped: true };
    }
    // Redis processed the bump before its reply arrived: an instance silent until now + lease has lost its lease.
    const processedBy = performance.now();
    // Replies come in the order the bumps ran (one connection): a count not above the last one means the keys went back.
    if (bumps > this.#bumpsTaken) this.#bumpsTaken = bumps;
    else store.rollbackWatch?.rollbackSeen();
    // This instance's registration gone, though renewed within its lifetime: the registry was lost
    // (a first bump since the loss has no count to compare). On one server PUBLISH counts every subscriber.
    // Not while the registry is known lost (a fence's own bumps, and the writes before the next
    // heartbeat registers this instance again): each would fence once more (outside probe 202: 2–3
    // fences of the whole namespace for one FLUSHALL of the shard).
    if (store.isCluster && ownStands === 0 && processedBy >= this.#receiversUnknownUntil && bus.registrationStandsAt(processedBy)) store.rollbackWatch?.rollbackSeen();
    // Instances of another schema were live: the bump also bumped the schema epoch (see BUMP_VERSIONS).
    this.#listener.applied(seq, mixed === 1 ? [...list, bus.schema.epoch] : list, sentAt);
    // A fence is not counted as invalidations sent, and nobody acknowledges it.
    if (fence !== undefined) return { acks: Promise.resolve(true) };
    counters.invalidationSent(list);
    if (!acknowledged) return { acks: Promise.resolve(true) };
    // `receivers` counts the other instances only: this one applied the bump just now, from the reply.
    // An instance that did not acknowledge has lost its L1 lease by lease.ttl after Redis processed the bump.
    // The longest lease in the fleet, not this instance's: others may be configured with a longer one.
    const leaseMs = Math.max(this.#options.leaseTtlMs, bus.fleetLeaseMs);
    const settled = acks.wait(processedBy < this.#receiversUnknownUntil ? Number.POSITIVE_INFINITY : receivers, leaseMs).then(async (complete) => {
      if (!complete || performance.now() - processedBy > this.#options.ackTimeoutMs) counters.invalidationAckTimeouts++;
      if (!complete) {
        // Perhaps a host gone without closing its subscriber connection, which PUBLISH still counts.
        bus.endLapsedSubscribers();
        await waitUntilLapsed(processedBy, leaseMs);
      }
      this.#listener.delivered(list, sentMs);
      return complete;
    });
    return { acks: settled };
  }
}

/** BUMP_VERSIONS's reply, or undefined when it has another shape (nothing read from Redis is trusted). */
export function parseBumpReply(reply: unknown): { seq: number; receivers: number; mixed: number; bumps: number; ownStands: number } | undefined {
  if (!Array.isArray(reply) || reply.length !== 5 || !reply.every((value) => typeof value === "number" && Number.isSafeInteger(value))) return undefined;
  const [seq, receivers, mixed, bumps, ownStands] = reply as [number, number, number, number, number];
  return { seq, receivers, mixed, bumps, ownStands };
}

function describeReply(reply: unknown): string {
  const text = Array.isArray(reply) ? `[${reply.map(String).join(", ")}]` : String(reply);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
