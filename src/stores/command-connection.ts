import type { RedisLike } from "../types.js";

/**
 * The connection the cache sends its commands on. On a standalone server or behind Sentinel it is
 * the cache's own: a duplicate of the client it was given, opened once per client and process
 * (every cache of the process given that client shares it, as they shared the client) and closed
 * when the last of them closes. Why not the application's connection:
 *
 * - A half-open connection (a middlebox that lost the flow, a peer gone without a FIN) answers
 *   nothing and never closes: ioredis alone never notices. A writer's invalidations then go
 *   nowhere, and other instances serve the old row. The cache's own connection gets a socket
 *   timeout, so it is dropped and reconnects within seconds, before a write waiting to deliver
 *   its invalidation gives up (`redisDownWriteWait`).
 * - ioredis resends the commands a dropped socket left unanswered. An application's `INCR` or
 *   `MULTI` would run twice, so the application's connection must never be dropped for the cache's
 *   sake; the cache's own connection does not resend (each of its calls has its own deadline and
 *   fails on its own; a resent announcement could land after its write's confirmation).
 * - The application's `MULTI`, `SELECT` or blocking commands no longer stand in the cache's way,
 *   and the cache's corking of its socket (see RedisStore) delays none of the application's commands.
 *
 * On a Cluster it is a duplicate too, whose connection to each node gets the same socket timeout.
 */
export interface CommandConnection {
  readonly redis: RedisLike;
  /** This cache no longer uses the connection: the last to release it closes it (QUIT, bounded). */
  release(): Promise<void>;
}

/** How long close() waits for Redis to answer QUIT before dropping the connection. */
export const QUIT_WAIT_MS = 1_000;

/**
 * Nothing received this long after a command: the connection is half-open (or Redis stalled), dropped
 * and reconnected. Always the cache's own figure, whatever the application's client sets: the cache's
 * commands are small, each gives up after `redisTimeout`, and the replacement must come before a write
 * waiting to deliver its invalidation gives up (`redisDownWriteWait`).
 */
export function commandSocketTimeoutMs(redisTimeoutMs: number): number {
  return Math.max(2_000, 4 * redisTimeoutMs);
}

interface Opened {
  redis: RedisLike & Closable;
  /** The last cache using it released it: it is closing and must stay closed. */
  closing: boolean;
  users: number;
  errorHandlers: Set<(error: Error) => void>;
}

interface Closable {
  quit(): Promise<unknown>;
  disconnect(): void;
  connect(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "close" | "end", listener: () => void): unknown;
}

/**
 * Per client the application gave, and per socket timeout (caches with other `redisTimeout`s need
 * other ones): the cache's connection duplicated from it, while a cache of the process uses it.
 */
const opened = new WeakMap<RedisLike, Map<number, Opened>>();

/** `onError` hears the connection's errors (a refused connection, a dropped socket) while this cache uses it. */
export function openCommandConnection(client: RedisLike, redisTimeoutMs: number, onError: (error: Error) => void): CommandConnection {
  const socketTimeoutMs = commandSocketTimeoutMs(redisTimeoutMs);
  let byTimeout = opened.get(client);
  if (byTimeout === undefined) opened.set(client, (byTimeout = new Map()));
  let entry = byTimeout.get(socketTimeoutMs);
  if (entry === undefined) byTimeout.set(socketTimeoutMs, (entry = open(client, socketTimeoutMs)));
  entry.users++;
  entry.errorHandlers.add(onError);
  let released = false;
  const shared = entry;
  return {
    redis: shared.redis,
    async release() {
      if (released) return;
      released = true;
      shared.errorHandlers.delete(onError);
      if (--shared.users > 0) return;
      if (byTimeout.get(socketTimeoutMs) === shared) byTimeout.delete(socketTimeoutMs);
      shared.closing = true;
      await quitWithin(shared.redis, QUIT_WAIT_MS);
    },
  };
}

/**
 * Settings of the app's client its duplicates must not inherit, on every cache connection:
 * - `enableAutoPipelining`: an auto-pipeline whose connection drops while it is in flight is never
 *   settled when unanswered commands are not resent, and every later command queues behind it —
 *   the connection answers nothing again, Redis healthy (outside probe 182: circuits open for
 *   good after one `CLIENT KILL`, and 94 stale reads on the instance that still heard writes).
 *   The cache corks its own connection instead (see RedisStore).
 * - `commandTimeout`: each of the cache's calls has its own deadline (`redisTimeout`, the lease's
 *   heartbeat); an app's 20 ms would fail them before it (outside probe 182).
 */
export const CACHE_OWN_SETTINGS = { enableAutoPipelining: false, commandTimeout: undefined } as const;

function open(client: RedisLike, socketTimeoutMs: number): Opened {
  // Unanswered commands are dropped, not resent, and ioredis never settles them: each call the
  // cache makes has its own deadline (RedisStore), so nothing waits on them.
  const connectionOptions = { autoResendUnfulfilledCommands: false, socketTimeout: socketTimeoutMs, ...CACHE_OWN_SETTINGS };
  const redis = (
    client.isCluster === true
      ? // A Cluster's node connections take their options from `redisOptions`. They never reconnect
        // (ioredis opens a new one), and the Cluster sends a command whose node connection closed
        // again once it learnt the slots anew: a failover or a reset node must not fail the cache's
        // commands (with those retries off, a replica reset made a writer's invalidation undelivered).
        (client.duplicate as (startupNodes: unknown[], override: object) => unknown).call(client, [], {
          redisOptions: { ...(client.options as { redisOptions?: object } | undefined)?.redisOptions, socketTimeout: socketTimeoutMs, ...CACHE_OWN_SETTINGS },
          enableAutoPipelining: false,
        })
      : (client.duplicate as (override: object) => unknown).call(client, { ...connectionOptions, ...sentinelOverrides(client) })
  ) as RedisLike & Closable;
  const entry: Opened = { redis, closing: false, users: 0, errorHandlers: new Set() };
  // Without a listener ioredis prints every connection error to the console.
  redis.on("error", (error) => {
    for (const handler of entry.errorHandlers) handler(error);
  });
  clearSocketTimerOnClose(redis);
  readBeforeSocketTimeout(redis);
  reviveWhenEnded(redis, () => entry.closing);
  // A lazyConnect client's duplicate would wait for a first command: connect it now, as the subscriber is.
  if (redis.status === "wait") redis.connect().catch(() => {});
  return entry;
}

/**
 * ioredis arms its `socketTimeout` timer when it writes a command and clears it only when data
 * arrives: a socket that closes with a command in flight leaves it armed, and when it fires it
 * destroys whatever socket the connection has then — the new, healthy one (an outside probe saw
 * every drop followed by a second one 2 s later). Cleared when the socket closes.
 */
export function clearSocketTimerOnClose(connection: { on(event: "close", listener: () => void): unknown }): void {
  connection.on("close", () => {
    const armed = connection as { socketTimeoutTimer?: NodeJS.Timeout };
    if (armed.socketTimeoutTimer === undefined) return;
    clearTimeout(armed.socketTimeoutTimer);
    armed.socketTimeoutTimer = undefined;
  });
}

/** ioredis's own members that run its `socketTimeout` (see readBeforeSocketTimeout). */
interface SocketTimer {
  socketTimeoutTimer?: NodeJS.Timeout;
  setSocketTimeout?: () => void;
  options?: { socketTimeout?: number };
  stream?: { destroy(error: Error): void };
}

/**
 * ioredis's `socketTimeout` timer destroys the socket when it fires, and timers run before the
 * event loop polls for I/O: after a stall of this process (a synchronous loop, a long GC pause,
 * SIGSTOP) longer than the timeout, it fired with the reply waiting unread on the socket, and a
 * healthy connection was dropped — its calls counted as timeouts, the circuit opened, the next
 * write unannounced (outside probe 152: 7 of 16 stalls of 2.1–4 s). The decision is now taken
 * after one turn of I/O: data read in that turn clears or re-arms the timer (ioredis's own "data"
 * handler), and the socket is destroyed only if none came. (A Cluster's node connections are
 * ioredis's own: not changed.)
 */
export function readBeforeSocketTimeout(connection: object): void {
  const timer = connection as SocketTimer;
  const arm = timer.setSocketTimeout;
  // Another ioredis version than the one this was written against: left as it is.
  if (typeof arm !== "function") return;
  timer.setSocketTimeout = function (this: SocketTimer) {
    arm.call(this);
    clearTimeout(this.socketTimeoutTimer);
    const timeoutMs = this.options?.socketTimeout ?? 0;
    const armed = afterIoTurn(timeoutMs, () => {
      if (this.socketTimeoutTimer !== armed) return;
      this.socketTimeoutTimer = undefined;
      this.stream?.destroy(new Error(`Socket timeout. Expecting data, but didn't receive any in ${timeoutMs}ms.`));
    });
    this.socketTimeoutTimer = armed;
  };
}

/**
 * Runs `act` once `ms` have passed and the event loop has then polled for I/O once: timers run
 * before the poll, so after a stall of this process (a synchronous loop, a GC pause, SIGSTOP)
 * longer than `ms`, a timer alone fires with the awaited reply still unread on the socket. The
 * reply, if there, is handled first; `act` checks whether it is still needed.
 */
export function afterIoTurn(ms: number, act: () => void): NodeJS.Timeout {
  return setTimeout(() => setImmediate(act), ms);
}

/**
 * Behind Sentinel, the cache's connections follow a failover as soon as Sentinel announces it
 * (`+switch-master`), not when they next reconnect. Sentinel leaves the old primary writable until
 * it next polls it (about 10 s): an instance still on it would serve its L1 and hear none of the
 * writes that instances which connected in that window send to the new primary (an outside probe:
 * 3 030 stale reads of 48 742 across a manual failover). ioredis's failover detector subscribes to
 * the sentinels and drops the connection on the announcement; it then asks Sentinel again.
 */
export function sentinelOverrides(client: RedisLike): object {
  const options = client.options as { sentinels?: unknown; sentinelCommandTimeout?: unknown } | undefined;
  if (!Array.isArray(options?.sentinels) || options.sentinels.length === 0) return {};
  return {
    failoverDetector: true,
    // The detector's sentinel connections reconnect after a minute by default: a failover announced
    // within a minute of the sentinels restarting went unheard (an outside probe: 3 008 stale reads).
    sentinelReconnectStrategy: () => SENTINEL_RECONNECT_MS,
    // A sentinel that accepts the connection and never answers (a frozen process) would hold the
    // question "which is the primary?" forever by default, and the cache's connections with it,
    // though the other sentinels answer (an outside probe: writes undelivered for as long as it hung).
    sentinelCommandTimeout: options.sentinelCommandTimeout ?? SENTINEL_COMMAND_TIMEOUT_MS,
  };
}

/** How long the cache's connections wait for one sentinel's answer before asking the next (unless your client sets `sentinelCommandTimeout`). */
export const SENTINEL_COMMAND_TIMEOUT_MS = 1_000;

/** How soon the cache's connections to the sentinels (its failover detectors) reconnect. */
export const SENTINEL_RECONNECT_MS = 1_000;

/** How soon a connection of the cache that ended on its own is opened again. */
export const REVIVE_AFTER_MS = 1_000;

/**
 * A connection of the cache must come back whatever ended it, until the cache closes it: ioredis
 * gives up for good when a failover detector drops the connection while it is asking Sentinel for
 * the primary (an outside probe: every cache connection of a process ended at a kill -9 of the
 * primary, its writes undelivered until the process restarted), and when the application's
 * `retryStrategy`, which the duplicate inherits, stops retrying. A Cluster that ends stays ended
 * (its own retry strategy said so, and it opens new node connections by itself).
 */
export function reviveWhenEnded(connection: { readonly status: string; readonly isCluster?: boolean | undefined; on(event: "end", listener: () => void): unknown; connect(): Promise<void> }, closed: () => boolean): void {
  if (connection.isCluster === true) return;
  connection.on("end", () => {
    if (closed()) return;
    setTimeout(() => {
      if (!closed() && connection.status === "end") connection.connect().catch(() => {});
    }, REVIVE_AFTER_MS).unref();
  });
}

/**
 * QUIT waits for Redis's answer: a stalled or unreachable server must not hold close() up. The
 * connection is then disconnected as well: only that ends the sockets ioredis's failover detector
 * keeps open to the sentinels (QUIT closes the server's socket alone, and they would keep the
 * process alive), and the reconnection of a connection that lost its server.
 *
 * ioredis's `disconnect()` ends the connection's socket and arms a timer (2 s) that only that
 * socket's next "close" clears: on a socket that has closed already — QUIT answered, or the server
 * gone and ioredis reconnecting — none comes, and the timer kept the process alive 2 s after
 * everything was closed (outside probe 127). So QUIT is sent only to a connection that is ready
 * (ioredis answers it on any other by that same `disconnect()`), and a closed socket is forgotten
 * before disconnecting.
 */
export async function quitWithin(connection: { quit(): Promise<unknown>; disconnect(): void }, waitMs: number): Promise<void> {
  const { status } = connection as { status?: string };
  if (status === undefined || status === "ready") {
    await Promise.race([connection.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, waitMs).unref())]);
  }
  forgetClosedSocket(connection);
  connection.disconnect();
}

/** A standalone or Sentinel connection's socket, once closed, is no longer its connector's to end. */
function forgetClosedSocket(connection: object): void {
  const connector = (connection as { connector?: { stream?: { destroyed?: boolean } } }).connector;
  if (connector?.stream?.destroyed === true) connector.stream = undefined;
}
