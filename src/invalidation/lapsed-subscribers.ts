import { CacheStoreError, type CacheError } from "../errors.js";
import { UNREGISTERED } from "../stores/redis-scripts.js";
import type { RedisStore } from "../stores/redis-store.js";

/** At most one sweep per this many ms per instance: a host that vanished costs one lease per write until it ran. */
const SWEEP_INTERVAL_MS = 1_000;

/**
 * Ends the subscriber connections of instances whose registration lapsed. A host that vanished
 * without closing its sockets (powered off, cut off by the network, a VM terminated) leaves its
 * subscriber connection standing in Redis, which counts it among PUBLISH's receivers until its
 * TCP keepalive gives up (an outside probe: still there 11 minutes later): every write in the
 * fleet would wait a lease for an acknowledgement that never comes.
 *
 * Each instance names its subscriber connection (`nameOf`). After a write some instance did not
 * acknowledge, the writer lists the server's (each master's on a Cluster) subscriber connections and ends those of its
 * namespace whose instance is not registered and that are older than `minAgeMs` (an instance
 * connected longer has registered, unless it cannot: frozen, starved, cut off from Redis on its
 * command connection — and then it serves nothing cached, see InstanceRegistry.current). Ending a
 * live instance's subscriber connection is safe: it stops serving L1 and subscribes again.
 */
export class LapsedSubscribers {
  readonly #store: RedisStore;
  readonly #namePrefix: string;
  readonly #registry: { key: string; bornKey: string };
  readonly #ownInstanceId: string;
  /** The Redis database this fleet's registry is in: fleets of one namespace in other databases are not its to judge. */
  readonly #db: number;
  readonly #minAgeMs: () => number;
  readonly #report: (error: CacheError) => void;
  #nextSweepAt = 0;
  #sweeping = false;
  #refused = false;

  constructor(store: RedisStore, prefix: string, registry: { key: string; bornKey: string }, ownInstanceId: string, db: number, minAgeMs: () => number, report: (error: CacheError) => void) {
    this.#store = store;
    this.#db = db;
    this.#namePrefix = `${prefix}:sub:`;
    this.#registry = registry;
    this.#ownInstanceId = ownInstanceId;
    this.#minAgeMs = minAgeMs;
    this.#report = report;
  }

  /** The name an instance's subscriber connection takes (`CLIENT SETNAME`), after the application's own name for its connections, if it gave one. */
  nameOf(instanceId: string, connectionName?: unknown): string {
    const own = typeof connectionName === "string" && /^[^\s]+$/.test(connectionName) ? `${connectionName}/` : "";
    return own + this.#namePrefix + instanceId;
  }

  /** Ends the lapsed instances' subscriber connections, in the background (one sweep at a time, at most one a second). */
  sweep(): void {
    const now = performance.now();
    if (this.#sweeping || this.#refused || now < this.#nextSweepAt) return;
    this.#sweeping = true;
    this.#nextSweepAt = now + SWEEP_INTERVAL_MS;
    this.#sweepNow()
      .catch((error: unknown) => this.#failed(error))
      .finally(() => (this.#sweeping = false));
  }

  async #sweepNow(): Promise<void> {
    const servers = (await this.#store.subscriberConnections()).map((server) => {
      const superseded = supersededConnections(server.list, this.#namePrefix, this.#db);
      const candidates = lapsedCandidates(server.list, this.#namePrefix, this.#ownInstanceId, this.#db, this.#minAgeMs());
      for (const id of superseded) candidates.delete(id);
      return { ...server, superseded, candidates };
    });
    // "No such client": it closed meanwhile.
    for (const server of servers) for (const id of server.superseded) await server.end(id).catch((error: unknown) => this.#failed(error));
    const instances = new Set(servers.flatMap((server) => [...server.candidates.values()]));
    if (instances.size === 0) return;
    // The registry must be as old as the connections judged: one remade since (a FLUSHALL) lacks live instances until their next heartbeats.
    const unregistered = new Set((await this.#store.run(UNREGISTERED, [this.#registry.key, this.#registry.bornKey], [this.#minAgeMs(), ...instances])) as string[]);
    for (const server of servers) {
      for (const [id, instance] of server.candidates) {
        if (unregistered.has(instance)) await server.end(id).catch((error: unknown) => this.#failed(error));
      }
    }
  }

  #failed(error: unknown): void {
    // Timeouts and a connection that closed meanwhile: the next unacknowledged write sweeps again.
    if (!/NOPERM/.test(String((error as { cause?: Error })?.cause?.message ?? (error as Error)?.message))) return;
    this.#refused = true;
    const reply = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
    this.#report(new CacheStoreError("CLIENT", `${reply}: grant +client so that the subscriber connection of an instance that vanished without closing it (a host powered off or cut off) can be ended; until the server drops it, every write waits a lease for it`, { cause: error }));
  }
}

/** What ioredis puts before the name of a Cluster's subscriber connection (its node options' `connectionName`). */
const CLUSTER_SUBSCRIBER = "ioredis-cluster(subscriber):";

/** A subscriber connection of the namespace, from one line of `CLIENT LIST`. */
interface SubscriberConnection {
  id: string;
  instance: string;
  ageMs: number;
}

/**
 * From `CLIENT LIST`: the connections of database `db` named `[<application's name>/]<prefix><instance>`
 * (after ioredis's own prefix on a Cluster).
 */
function namespaceSubscribers(clientList: string, namePrefix: string, db: number): SubscriberConnection[] {
  const out: SubscriberConnection[] = [];
  for (const line of clientList.split("\n")) {
    const listed = /(?:^| )name=(\S*)/.exec(line)?.[1];
    const name = listed?.startsWith(CLUSTER_SUBSCRIBER) ? listed.slice(CLUSTER_SUBSCRIBER.length) : listed;
    const at = name === undefined ? -1 : name.indexOf(namePrefix);
    if (name === undefined || (at !== 0 && name[at - 1] !== "/")) continue;
    const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
    if (id === undefined || /(?:^| )db=(\d+)/.exec(line)?.[1] !== String(db)) continue;
    out.push({ id, instance: name.slice(at + namePrefix.length), ageMs: Number(/(?:^| )age=(\d+)/.exec(line)?.[1]) * 1000 });
  }
  return out;
}

/** Of `namespaceSubscribers`, the other instances' connections at least `minAgeMs` old, as id → instance. */
export function lapsedCandidates(clientList: string, namePrefix: string, own: string, db: number, minAgeMs: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const { id, instance, ageMs } of namespaceSubscribers(clientList, namePrefix, db)) {
    if (instance !== own && ageMs >= minAgeMs) out.set(id, instance);
  }
  return out;
}

/**
 * Connections of an instance that has a newer one on the same server (a larger id: a server numbers
 * its clients in order). An instance subscribes on one connection at a time, so the older ones
 * are left behind — on a Cluster, a subscription made again after a heartbeat that never arrived,
 * whose old connection went half-open, where the standalone instance ends its previous one itself
 * (Bus.#prepareConnection) — and the server's PUBLISH counts them: every write would wait a lease
 * for an acknowledgement the instance already sent once. Its own instance's too.
 */
export function supersededConnections(clientList: string, namePrefix: string, db: number): string[] {
  const newest = new Map<string, bigint>();
  const connections = namespaceSubscribers(clientList, namePrefix, db);
  for (const { id, instance } of connections) if (!newest.has(instance) || BigInt(id) > newest.get(instance)!) newest.set(instance, BigInt(id));
  return connections.filter(({ id, instance }) => BigInt(id) < newest.get(instance)!).map(({ id }) => id);
}
