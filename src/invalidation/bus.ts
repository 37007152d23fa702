import { randomUUID } from "node:crypto";
import type { CacheError } from "../errors.js";
import { CacheStoreError } from "../errors.js";
import type { RedisStore } from "../stores/redis-store.js";
import type { RedisLike, SubscriberLike } from "../types.js";

export interface BusHandlers {
  /** Another instance (or this one) bumped `names` to `seq`. */
  onInvalidation(seq: number, names: readonly string[]): void;
  /** A loader stored the entry under `key` (`landed`), or loaded a result it will not cache. */
  onLanded(key: string, landed: boolean): void;
  /** The subscription went down (false) or is live again (true). */
  onTrustChange(trusted: boolean): void;
  onError(error: CacheError): void;
}

/** How long close() waits for Redis to answer QUIT before dropping the connection. */
const QUIT_WAIT_MS = 1_000;

/** How long a registration outlives its last heartbeat (a dead instance is waited for at most this long). */
const REGISTRATION_TTL_MS = 6_000;

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
  readonly #ackChannel: string;
  readonly #prefix: string;
  readonly #store: RedisStore;
  readonly #handlers: BusHandlers;
  readonly #subscriber: SubscriberLike;
  readonly #waiters = new Map<string, AckWaiter>();
  #trusted = false;
  #closed = false;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Live instances by expiry: on a Cluster a writer waits for the acks of these, not PUBLISH's node-local count. */
  readonly registryKey: string;

  constructor(redis: RedisLike, store: RedisStore, prefix: string, handlers: BusHandlers) {
    this.#prefix = prefix;
    this.registryKey = `${prefix}:instances`;
    this.eventsChannel = `${prefix}:events`;
    this.#ackChannel = `${prefix}:ack:${this.instanceId}`;
    this.#store = store;
    this.#handlers = handlers;
    this.#subscriber = redis.duplicate();
    this.#subscriber.on("message", (channel, message) => this.#receive(channel, message));
    this.#subscriber.on("ready", () => this.#subscribe());
    for (const event of ["close", "end", "reconnecting"] as const) this.#subscriber.on(event, () => this.#setTrusted(false));
    this.#subscriber.on("error", (error) => handlers.onError(new CacheStoreError("SUBSCRIBE", error.message, { cause: error })));
    if (this.#subscriber.status === "ready") this.#subscribe();
    // A lazyConnect client's duplicate waits for a first command: connect it now.
    else if (this.#subscriber.status === "wait") this.#subscriber.connect().catch((error: Error) => handlers.onError(new CacheStoreError("CONNECT", error.message, { cause: error })));
  }

  /** Resolves true once the subscription is live, or false after `timeoutMs`. */
  async live(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#trusted && !this.#closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    return this.#trusted;
  }

  /** True while the subscription is live: only then may L1 serve entries. */
  get trusted(): boolean {
    return this.#trusted;
  }

  /**
   * A heartbeat on the subscriber connection itself: its reply comes after every message Redis
   * published before it processed the PING (what renews the L1 lease).
   */
  ping(): Promise<unknown> {
    return this.#subscriber.ping();
  }

  /** The message a bump publishes is `i|writer|id|<seq>|names`; the script inserts the sequence number. */
  invalidationMessage(messageId: string, names: readonly string[]): { prefix: string; suffix: string } {
    return { prefix: `i|${this.instanceId}|${messageId}|`, suffix: `|${JSON.stringify(names)}` };
  }

  landedMessage(key: string): string {
    return `l|${key}`;
  }

  /** Tells waiters the holder is done but stored nothing they could read: they load by themselves. */
  nothingLandedMessage(key: string): string {
    return `n|${key}`;
  }

  /** Registers interest in acknowledgements of `messageId` before the message is sent. */
  expectAcks(messageId: string): { wait(expected: number, timeoutMs: number): Promise<boolean>; cancel(): void } {
    const waiter: AckWaiter = { acks: 0, expected: undefined, resolve: () => {}, timer: undefined };
    const done = new Promise<boolean>((resolve) => (waiter.resolve = resolve));
    this.#waiters.set(messageId, waiter);
    const finish = (complete: boolean) => {
      clearTimeout(waiter.timer);
      this.#waiters.delete(messageId);
      waiter.resolve(complete);
    };
    return {
      wait: (expected, timeoutMs) => {
        waiter.expected = expected;
        if (waiter.acks >= expected) finish(true);
        else waiter.timer = setTimeout(() => finish(false), timeoutMs);
        return done;
      },
      cancel: () => finish(false),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#setTrusted(false);
    for (const waiter of this.#waiters.values()) waiter.resolve(false);
    this.#waiters.clear();
    // QUIT waits for Redis's answer: a stalled or unreachable server must not hold close() up.
    const quit = this.#subscriber.quit();
    const answered = await Promise.race([quit.then(() => true, () => false), new Promise<false>((resolve) => setTimeout(resolve, QUIT_WAIT_MS, false).unref())]);
    if (!answered) this.#subscriber.disconnect();
  }

  #subscribe(): void {
    this.#subscriber.subscribe(this.eventsChannel, this.#ackChannel).then(
      () => this.#setTrusted(!this.#closed),
      (error: Error) => this.#handlers.onError(new CacheStoreError("SUBSCRIBE", error.message, { cause: error })),
    );
  }

  #setTrusted(trusted: boolean): void {
    if (this.#trusted === trusted) return;
    this.#trusted = trusted;
    if (this.#store.isCluster) this.#register(trusted);
    this.#handlers.onTrustChange(trusted);
  }

  /** Cluster only: keeps this instance in the registry while its subscription is live. */
  #register(live: boolean): void {
    clearInterval(this.#heartbeat);
    const report = (error: unknown) => this.#handlers.onError(error instanceof CacheStoreError ? error : new CacheStoreError("ZADD", String(error)));
    if (!live) {
      this.#store.removeFromRegistry(this.registryKey, this.instanceId).catch(report);
      return;
    }
    const beat = () => {
      const now = Date.now();
      this.#store.addToRegistry(this.registryKey, this.instanceId, now + REGISTRATION_TTL_MS, now).catch(report);
    };
    beat();
    this.#heartbeat = setInterval(beat, REGISTRATION_TTL_MS / 3);
    this.#heartbeat.unref();
  }

  #receive(channel: string, message: string): void {
    if (channel === this.#ackChannel) {
      const waiter = this.#waiters.get(message);
      if (waiter === undefined) return;
      waiter.acks++;
      if (waiter.expected !== undefined && waiter.acks >= waiter.expected) {
        clearTimeout(waiter.timer);
        this.#waiters.delete(message);
        waiter.resolve(true);
      }
      return;
    }
    if (message.startsWith("l|")) return this.#handlers.onLanded(message.slice(2), true);
    if (message.startsWith("n|")) return this.#handlers.onLanded(message.slice(2), false);
    if (message.startsWith("i|")) this.#receiveInvalidation(message);
  }

  #receiveInvalidation(message: string): void {
    const [, writer, messageId, seq] = message.split("|", 4) as [string, string, string, string];
    const namesStart = 2 + writer.length + 1 + messageId.length + 1 + seq.length + 1;
    this.#handlers.onInvalidation(Number(seq), JSON.parse(message.slice(namesStart)) as string[]);
    // Acknowledge after applying: the writer resolves only when every instance has done so.
    this.#store.publish(`${this.#prefix}:ack:${writer}`, messageId).catch((error: unknown) => {
      this.#handlers.onError(error instanceof CacheStoreError ? error : new CacheStoreError("PUBLISH", String(error)));
    });
  }
}
