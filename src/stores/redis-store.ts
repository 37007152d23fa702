import { CacheStoreError } from "../errors.js";
import type { RedisLike } from "../types.js";
import type { CircuitBreaker } from "./circuit-breaker.js";
import { REGISTER_INSTANCE, type RedisScript } from "./redis-scripts.js";
import { runIdOf, type ServerIdentity } from "./server-identity.js";

/** The instance registry's keys: the live instances, when that registry was made, the fleet's longest lease, the pending writes. */
export interface RegistryKeys {
  key: string;
  bornKey: string;
  leaseKey: string;
  pendingKey: string;
  /** Each instance's bump count is this prefix and its member (see BUMP_COUNT_TTL_MS). */
  bumpCountPrefix: string;
}

/** Where an instance records its schema in the fleet (see REGISTER_INSTANCE). */
export interface SchemaRegistration {
  /** The live schemas: a sorted set of fingerprints by expiry. */
  key: string;
  /** Every schema's last registration, live or not: a sorted set by time (see REGISTER_INSTANCE). */
  seenKey: string;
  sequenceKey: string;
  /** The schema epoch's version key. */
  epochKey: string;
  /** `<database>|<schema fingerprint>`: schemas differ only among instances of one database. */
  member: string;
  /** `<database>|`. */
  databasePrefix: string;
}

/** ioredis states in which a command cannot be sent now: fail fast instead of queueing. */
const UNAVAILABLE = new Set(["close", "end", "reconnecting"]);

const QUEUED = Buffer.from("QUEUED");

/** Redis's answer to a command sent inside MULTI: no cache command's reply is ever this. */
function isQueued(value: unknown): boolean {
  return value === "QUEUED" || (Buffer.isBuffer(value) && value.equals(QUEUED));
}

/** Raised when a Redis call exceeded the configured timeout. */
export class RedisTimeoutError extends CacheStoreError {
  /** `waitedFor`: what the call waited for instead of a reply, when it was never sent (the server's verification). */
  constructor(operation: string, timeoutMs: number, waitedFor?: string) {
    super(operation, waitedFor === undefined ? `no answer within ${timeoutMs} ms` : `not sent within ${timeoutMs} ms: ${waitedFor}`);
  }
}

/** A reply that came from another Redis server than the one its command was sent to (a reconnection in between): not used. */
export class ServerChangedError extends CacheStoreError {
  constructor(operation: string) {
    super(operation, "the Redis connection was re-established during the call (the server may have changed): reply not used");
  }
}

/** Raised at once, without a round trip, while the circuit breaker is open. */
export class CircuitOpenError extends CacheStoreError {
  constructor(operation: string) {
    super(operation, "circuit open (Redis kept failing; probing)");
  }
}

/** Redis's refusals of a key by an ACL, in a command's arguments or inside a script. */
const KEY_REFUSED = /^NOPERM.*\bkeys?\b|can't access at least one of the keys/i;

/**
 * Redis names neither the key nor the pattern it refused: say which patterns the cache needs (an
 * outside probe's ACL left out the hot-key replicas, and every hot read failed with a bare NOPERM).
 */
function withAclHint(message: string): string {
  if (!KEY_REFUSED.test(message)) return message;
  return `${message} (the cache's Redis user must be allowed every key family of its namespace: entries <namespace>:*, {<namespace>}:*, dirty marks d{<namespace>}:*, hot-key replicas {r*}<namespace>:* — see the README's namespace option)`;
}

/** Redis's refusal of a command a script calls: it names the script's line, not the command. */
const SCRIPT_COMMAND_DENIED = /can't run this command or subcommand script: \w+, on @user_script:(\d+)/;

/**
 * Names the command an ACL refused inside a script, read off the script's line Redis gives (the
 * `#!lua` line is line 1): the bare message names neither (outside probe 219: a user without
 * PUBLISH saw only a script hash and a line number, repeated at every write).
 */
export function namingDeniedCommand(error: unknown, script: RedisScript): unknown {
  const line = SCRIPT_COMMAND_DENIED.exec(String((error as Error)?.message))?.[1];
  if (line === undefined) return error;
  // A command is an upper-case literal passed first: to redis.call, or to a helper of the script that calls it.
  const commandsIn = (text: string) => [...new Set([...text.matchAll(/[\w.]+\(\s*['"]([A-Z]+)['"]/g)].map((match) => match[1]!))];
  // A line calling a command named by a variable (in such a helper): any the script names may be the one.
  let commands = commandsIn(script.source.split("\n")[Number(line) - 1] ?? "");
  if (commands.length === 0) commands = commandsIn(script.source);
  const denied = commands.length === 0 ? "a command this script calls" : commands.length === 1 ? commands[0] : `one of ${commands.join(", ")}`;
  (error as Error).message += ` (the ACL denies ${denied}: the cache's Redis user needs every command the README's namespace option lists)`;
  return error;
}

/**
 * Reply errors that mean Redis cannot serve us now (as opposed to refusing one command, as OOM
 * does): they count towards opening the circuit, like timeouts and connection errors. A server
 * refusing every write (`NOREPLICAS`: `min-replicas-to-write` not met; `MISCONF`: a failed RDB
 * save with `stop-writes-on-bgsave-error`) is one: its entries and versions cannot move.
 */
const UNSERVABLE_REPLIES = /^(NOAUTH|WRONGPASS|NOPERM|LOADING|MASTERDOWN|READONLY|NOREPLICAS|MISCONF|BUSY|CLUSTERDOWN|TRYAGAIN)\b/;

/**
 * Every Redis command the cache sends. Each call is bounded by `timeoutMs`, so a slow or absent
 * Redis costs a query at most that long before it falls through to the database.
 */
export class RedisStore {
  readonly #redis: RedisLike;
  readonly #timeoutMs: number;
  /** Set once by the runtime: calls fail fast while it is open. */
  breaker: CircuitBreaker | undefined;
  /** Commands sent and not answered yet, with their deadlines (see #track). */
  readonly #inFlight = new Set<InFlight>();
  #sweeper: NodeJS.Timeout | undefined;
  /** When the sweep last ran (performance.now() ms): a late sweep measures a stall of this process. */
  #lastSweep = 0;
  /** The connection's socket while corked until the end of this tick (see #corkForTick). */
  #corked: CorkableStream | undefined;
  /**
   * Set once by the runtime (standalone and Sentinel): a call waits until the server behind the
   * connection is verified (and fenced if it changed), and a reply from a later connection than
   * its command's is discarded. Bumps and the verification itself go through unverified.
   */
  identity: ServerIdentity | undefined;
  /** What fences the namespace when its keys went back (the identity on one server; on a Cluster, see watchClusterRollback). */
  rollbackWatch: { rollbackSeen(): void; refusedAsReplica?(): void } | undefined;

  constructor(redis: RedisLike, timeoutMs: number) {
    this.#redis = redis;
    this.#timeoutMs = timeoutMs;
  }

  /** The server's `maxmemory` (bytes, 0: no limit) and `maxmemory-policy` (INFO memory); null if it will not say. */
  async evictionSettings(): Promise<{ maxmemory: number; policy: string } | null> {
    const info = await this.#bounded("INFO", () => this.#redis.info!("memory"), "unverified");
    const maxmemory = /^maxmemory:(\d+)\r?$/m.exec(info)?.[1];
    const policy = /^maxmemory_policy:([\w-]+)\r?$/m.exec(info)?.[1];
    return maxmemory === undefined || policy === undefined ? null : { maxmemory: Number(maxmemory), policy };
  }

  /** The server's replication role (INFO replication: "master" or "slave"); null if it will not say. */
  async replicationRole(): Promise<string | null> {
    const info = await this.#bounded("INFO", () => this.#redis.info!("replication"), "unverified");
    return /^role:(\w+)\r?$/m.exec(info)?.[1] ?? null;
  }

  /** The circuit breaker's probe: one PING, bounded like every call, sent even while the circuit is open. */
  probe(): Promise<unknown> {
    return this.#bounded("PING", () => this.#redis.ping(), "probe");
  }

  /** The server's `run_id` (INFO server); null if it will not say (INFO denied or renamed). */
  async serverRunId(): Promise<string | null> {
    let info: string;
    try {
      info = await this.#bounded("INFO", () => this.#redis.info!("server"), "past circuit");
    } catch (error) {
      // The server's own reply, under the CacheStoreError that wraps it.
      const reply = (error as { cause?: Error }).cause?.message ?? (error as Error)?.message;
      if (/^(NOPERM|ERR unknown command)/.test(String(reply))) return null;
      throw error;
    }
    return runIdOf(info);
  }

  /**
   * GET on a server not verified yet (the verification's own reads). The verification's calls
   * (this, `serverRunId`, `evalUnverified`) are sent while the circuit is open too: a failover
   * opens it (the demoted primary refuses writes: `READONLY`), and a verification refused as
   * "circuit open" held every read and reported each retry until the breaker's next probe
   * (outside probe 212: 5–28 reports and 0.4–2.4 s without hits per Sentinel failover).
   */
  getUnverified(key: string): Promise<string | null> {
    return this.#bounded("GET", () => this.#redis.get(key), "past circuit");
  }

  get isCluster(): boolean {
    return this.#redis.isCluster === true;
  }

  /** False while the command connection is down (a command would fail at once). */
  get connected(): boolean {
    return !UNAVAILABLE.has(this.#redis.status);
  }

  get(key: string): Promise<string | null> {
    return this.#bounded("GET", () => this.#redis.get(key));
  }

  /** EVALSHA whose reply keeps binary bulk strings as Buffers (Bloom filter bits). */
  runForBuffers(script: RedisScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.#bounded("EVALSHA", (wanted) => this.#evalsha(script, keys, args, wanted, true));
  }

  /** SET of binary data without expiry (a Bloom filter's scanned bits). */
  async setBuffer(key: string, value: Buffer, ttlMs: number): Promise<void> {
    await this.#bounded("SET", () => this.#redis.set(key, value, "PX", Math.max(1, Math.round(ttlMs))));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#bounded("SET", () => this.#redis.set(key, value, "PX", Math.max(1, Math.round(ttlMs))));
  }

  mget(keys: readonly string[]): Promise<Array<string | null>> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.#bounded("MGET", () => this.#redis.mget(...keys));
  }

  /** PTTL: the key's remaining lifetime in ms (-2: no such key, -1: none set). */
  async remainingTtl(key: string): Promise<number> {
    return this.#bounded("PTTL", () => this.#redis.pttl(key));
  }

  /** SET NX PX: true if this call created the key. */
  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.#bounded("SET", () => this.#redis.set(key, value, "PX", Math.max(1, Math.round(ttlMs)), "NX"))) === "OK";
  }

  /**
   * See REGISTER_INSTANCE: the fleet's longest lease, how many schemas are live, whether this
   * registration bumped the schema epoch, and `orphans`: the tokens and sweep names (JSON), alternating, of writes abandoned by their writers.
   */
  async addToRegistry(keys: RegistryKeys, member: string, leaseTtlMs: number, lifetimeMs: number, heartbeatMs: number, schema: SchemaRegistration, first = false): Promise<{ longestLeaseMs: number; schemas: number; epochBumped: boolean; orphans: unknown }> {
    const reply = (await this.runUnverified(REGISTER_INSTANCE, [keys.key, keys.leaseKey, schema.key, schema.sequenceKey, schema.epochKey, keys.pendingKey, keys.bornKey, schema.seenKey], [member, leaseTtlMs, lifetimeMs, schema.member, schema.databasePrefix, heartbeatMs, keys.bumpCountPrefix, first ? "1" : "0"])) as unknown[];
    return { longestLeaseMs: Number(reply[0]), schemas: Number(reply[1]), epochBumped: String(reply[2] ?? "") !== "", orphans: reply[3] };
  }

  /** DEL, on a server not verified (close(): an instance's own keys). */
  async deleteKey(key: string): Promise<void> {
    await this.#bounded("DEL", () => this.#redis.del(key), "unverified");
  }

  async removeFromRegistry(key: string, member: string): Promise<void> {
    await this.#bounded("ZREM", () => this.#redis.zrem(key, member), "unverified");
  }

  /**
   * `CLIENT LIST TYPE pubsub` of every server whose subscribers a PUBLISH may count — the server,
   * or each master of a Cluster (a command sent to the Cluster reaches one node) — each with a way
   * to end one of its connections (`CLIENT KILL ID` on that server: ids are unique per server).
   */
  async subscriberConnections(): Promise<Array<{ list: string; end(id: string): Promise<unknown> }>> {
    const servers = this.#redis.isCluster ? [...(this.#redis.nodes?.("master") ?? [])] : [this.#redis];
    return Promise.all(
      servers.map(async (server) => ({
        list: String(await this.#bounded("CLIENT", () => server.callBuffer("CLIENT", "LIST", "TYPE", "pubsub"))),
        end: (id: string) => this.#bounded("CLIENT", () => server.callBuffer("CLIENT", "KILL", "ID", id)),
      })),
    );
  }

  publish(channel: string, message: string): Promise<number> {
    return this.#bounded("PUBLISH", () => this.#redis.publish(channel, message), "unverified");
  }

  /** EVALSHA, loading the script with EVAL the first time a server has not seen it. */
  run(script: RedisScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.#bounded("EVALSHA", (wanted) => this.#evalsha(script, keys, args, wanted));
  }

  /** EVAL of a small script on a server not verified yet: one round trip even where it was never loaded (once per connection). */
  evalUnverified(script: RedisScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.#bounded("EVAL", () => this.#redis.eval(script.source, keys.length, ...keys, ...args), "past circuit");
  }

  /**
   * EVALSHA that need not wait for the server to be verified: bumps (they only move versions
   * forward, on whatever server takes them) and the fence itself.
   */
  runUnverified(script: RedisScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.#bounded("EVALSHA", (wanted) => this.#evalsha(script, keys, args, wanted), "unverified");
  }

  /**
   * Unverified, and sent even while the circuit is open: a write's bumps, and the check that the
   * namespace's keys went back. For bumps: a Redis slower than `redisTimeout` opens the circuit and never closes it again (its probe times out
   * too), yet it runs what it is sent: failing bumps at once there left every invalidation of a
   * writer on a slow link undelivered, while instances on good links served the old rows for as
   * long as that lasted (outside probe 159: 400 ms round trips, stale for 18 s to over 30 s after
   * each write resolved). Sent, a bump whose reply comes too late has still reached the fleet.
   * For the rollback check: a server made a replica of an older copy answers the reads that take
   * a lock `READONLY`, which can open the circuit before the check runs, and the breaker's `PING`,
   * which a replica answers, closes it again: checks refused as "circuit open" left the copy's
   * entries served for up to 2 s (outside probe 203).
   */
  runPastCircuit(script: RedisScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.#bounded("EVALSHA", (wanted) => this.#evalsha(script, keys, args, wanted), "past circuit");
  }

  /**
   * Runs `script` by its sha, loading it with EVAL the first time a server has not seen it;
   * `buffers`: bulk strings as Buffers. No EVAL once the caller gave up (`wanted` false): sent
   * after commands that followed it, a write's announcement would land after its own confirmation
   * and leave its marks standing. The script is loaded instead, without running it, for the next
   * call: on a link slower than `redisTimeout` every NOSCRIPT comes after the call was given up, and
   * a server that had never run the bump script never got it — no write of that instance reached
   * the fleet (a well-connected instance served the old rows for as long as the test ran).
   */
  async #evalsha(script: RedisScript, keys: readonly string[], args: ReadonlyArray<string | number>, wanted: () => boolean, buffers = false): Promise<unknown> {
    try {
      return await this.#eval("EVALSHA", script.sha, keys, args, buffers);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw namingDeniedCommand(error, script);
      if (wanted()) return this.#eval("EVAL", script.source, keys, args, buffers).catch((evalError: unknown) => Promise.reject(namingDeniedCommand(evalError, script)));
      this.#loadForNextCall(script);
      throw error;
    }
  }

  /** Scripts being loaded by #loadForNextCall, by sha: one load at a time each. */
  readonly #loading = new Set<string>();

  /**
   * SCRIPT LOAD on the server (every master of a Cluster). Its failure is not reported: the next
   * call of the script fails with NOSCRIPT again, which is, and loads it again.
   */
  #loadForNextCall(script: RedisScript): void {
    if (this.#loading.has(script.sha)) return;
    this.#loading.add(script.sha);
    const redis = this.#redis;
    const loads = redis.isCluster ? (redis.nodes?.("master") ?? []).map((node) => node.script("LOAD", script.source)) : [redis.script?.("LOAD", script.source)];
    void Promise.allSettled(loads).then(() => this.#loading.delete(script.sha));
  }

  #eval(command: "EVALSHA" | "EVAL", body: string, keys: readonly string[], args: ReadonlyArray<string | number>, buffers: boolean): Promise<unknown> {
    const redis = this.#redis;
    if (!buffers) return command === "EVALSHA" ? redis.evalsha(body, keys.length, ...keys, ...args) : redis.eval(body, keys.length, ...keys, ...args);
    const typed = command === "EVALSHA" ? redis.evalshaBuffer : redis.evalBuffer;
    return typed === undefined ? redis.callBuffer(command, body, keys.length, ...keys, ...args) : typed.call(redis, body, keys.length, ...keys, ...args);
  }


  /**
   * `mode`: "verified" (the default) waits for the server to be verified within the same bound,
   * and discards a reply from a later connection; "unverified" does neither; "probe" neither, and
   * is sent even while the circuit is open, without telling it; "past circuit" as "unverified", and
   * is sent even while the circuit is open (see runPastCircuit and getUnverified).
   */
  #bounded<T>(operation: string, command: (wanted: () => boolean) => Promise<T>, mode: "verified" | "unverified" | "probe" | "past circuit" = "verified"): Promise<T> {
    const breaker = mode === "probe" ? undefined : this.breaker;
    if (breaker?.open && mode !== "past circuit") return Promise.reject(new CircuitOpenError(operation));
    if (UNAVAILABLE.has(this.#redis.status)) {
      breaker?.failed();
      return Promise.reject(new CacheStoreError(operation, `connection is ${this.#redis.status}`));
    }
    const identity = mode === "verified" ? this.identity : undefined;
    if (identity !== undefined && !identity.verified) {
      // Verifications keep failing: fail now (the read goes to the database) rather than after redisTimeout (outside probe 150: 313 ms per read).
      if (identity.failing) return Promise.reject(new CacheStoreError(operation, `the server behind the connection could not be verified (its last verification: ${identity.lastFailure}); it is tried again shortly`));
      // Not one round trip before the server is verified: the command waits, within the same bound.
      return this.#verification(identity).then((deadline) => {
        if (deadline === undefined) {
          breaker?.failed();
          const failure = identity.lastFailure;
          throw new RedisTimeoutError(operation, this.#timeoutMs, `the server behind the connection is not verified yet${failure === undefined ? "" : ` (its last verification: ${failure})`}`);
        }
        return this.#send(operation, command, breaker, identity, Math.max(1, deadline - performance.now()), mode);
      });
    }
    return this.#send(operation, command, breaker, identity, this.#timeoutMs, mode);
  }

  /**
   * Waits for the server's verification as a command waits for its reply (swept, see #track):
   * resolves with the deadline left for the command, or undefined once past it.
   */
  #verification(identity: ServerIdentity): Promise<number | undefined> {
    return new Promise((resolve) => {
      const since = performance.now();
      const flight: InFlight = {
        since,
        deadline: since + this.#timeoutMs,
        expire: () => {
          stopWaiting();
          resolve(undefined);
        },
      };
      this.#track(flight);
      const stopWaiting = identity.onVerified(() => {
        this.#inFlight.delete(flight);
        resolve(flight.deadline);
      });
    });
  }

  #send<T>(operation: string, command: (wanted: () => boolean) => Promise<T>, breaker: CircuitBreaker | undefined, identity: ServerIdentity | undefined, timeoutMs: number, mode: "verified" | "unverified" | "probe" | "past circuit"): Promise<T> {
    const epoch = identity?.epoch;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const since = performance.now();
      const flight: InFlight = {
        since,
        deadline: since + timeoutMs,
        expire: () => {
          if (settled) return;
          settled = true;
          breaker?.failed();
          reject(new RedisTimeoutError(operation, this.#timeoutMs));
        },
      };
      this.#track(flight);
      if (mode === "verified") this.#corkForTick();
      command(() => !settled).then(
        (value) => {
          this.#inFlight.delete(flight);
          if (settled) return;
          settled = true;
          breaker?.succeeded();
          // Sent to one server, answered by the next (ioredis resends unanswered commands on reconnection).
          if (identity !== undefined && (identity.epoch !== epoch || !identity.verified)) reject(new ServerChangedError(operation));
          else if (isQueued(value)) reject(new CacheStoreError(operation, "the connection is inside a MULTI of the app's (the reply was QUEUED, the command did not run): give the cache a client of its own"));
          else resolve(value);
        },
        (error: unknown) => {
          this.#inFlight.delete(flight);
          if (settled) return;
          settled = true;
          const message = String((error as Error)?.message ?? error);
          // The server became a replica (REPLICAOF, a demotion in place): what it holds may be an older copy.
          if (message.startsWith("READONLY")) this.rollbackWatch?.refusedAsReplica?.();
          if ((error as Error)?.name !== "ReplyError" || UNSERVABLE_REPLIES.test(message)) breaker?.failed();
          reject(error instanceof CacheStoreError ? error : new CacheStoreError(operation, withAclHint(message), { cause: error }));
        },
      );
      if (mode !== "verified") this.#flushCorked();
    });
  }

  /**
   * Commands of the read path issued in one tick leave in one socket write: under concurrent
   * reads most ticks issue several lookups and stores, and each write to the socket is a system
   * call (`writeUtf8String` was 7.5 % of a zipf 95/5 profile). The socket is uncorked when the
   * tick's callbacks have run, before any I/O. Not for bumps and publishes (see #flushCorked).
   */
  #corkForTick(): void {
    if (this.#corked !== undefined) return;
    const stream = (this.#redis as { stream?: Partial<CorkableStream> }).stream;
    if (typeof stream?.cork !== "function" || typeof stream.uncork !== "function") return;
    const corked = stream as CorkableStream;
    this.#corked = corked;
    corked.cork();
    process.nextTick(() => {
      if (this.#corked !== corked) return;
      this.#corked = undefined;
      corked.uncork();
    });
  }

  /**
   * A write's announcement must be on its way to Redis before the write's SQL (a writer killed
   * right after its commit leaves its marks standing only if they left first), and an
   * acknowledgement should not wait: such commands flush what the tick corked, themselves included.
   */
  #flushCorked(): void {
    const corked = this.#corked;
    if (corked === undefined) return;
    this.#corked = undefined;
    corked.uncork();
  }

  /**
   * One timer for every command in flight (a setTimeout and clearTimeout per command cost more
   * than the rest of an L2 hit's bookkeeping): a sweep every quarter of the timeout fails the
   * commands past their deadline, so a command gives up between 1× and 1.25× the timeout. The
   * sweep stops when nothing is in flight.
   *
   * The timeout is Redis's delay, not this process's: time the process did not run (a
   * synchronous start-up such as `$extends` right after the client was made, a long GC pause, a
   * starved CPU) shows as a late sweep. Once per command, that stall is not counted, and the
   * command keeps at least a whole timeout from then: its connection and its reply get their turn
   * of this process's I/O first. Outside probe 96 saw a 280 ms start-up stall fail the server's verification on a loaded
   * machine, reported as Redis failing, with the first reads sent to the database; with a grace of
   * one sweep period (62 ms) probe 100 still saw it on a loaded machine. Once only: a grace renewed
   * at every late sweep kept a frozen Redis unnoticed for 9 s in a process stalling again and
   * again (outside probe 97).
   */
  #track(flight: InFlight): void {
    this.#inFlight.add(flight);
    if (this.#sweeper !== undefined) return;
    this.#lastSweep = performance.now();
    this.#sweeper = setInterval(() => this.#sweep(), this.#sweepEveryMs);
  }

  get #sweepEveryMs(): number {
    return Math.max(1, Math.floor(this.#timeoutMs / 4));
  }

  #sweep(): void {
    const now = performance.now();
    // When this sweep was due: the process did not run its timers from then until now.
    const due = this.#lastSweep + this.#sweepEveryMs;
    this.#lastSweep = now;
    const stalled = now - due;
    for (const flight of this.#inFlight) {
      if (stalled > this.#sweepEveryMs && !flight.graced) {
        flight.graced = true;
        // The stall is not counted, but only the part of it a command lived through: one sent
        // after the process came back (a frozen reader's store, sent as it thawed) lived through
        // none of it, and keeps a whole timeout from now like every other (outside probe 287:
        // given the whole 6 s freeze, a store to a restarted Redis that never answered held the
        // key's local waiters for lockTtl).
        const lived = now - Math.max(due, flight.since);
        flight.deadline = Math.max(flight.deadline + lived, now + this.#timeoutMs);
      }
      if (flight.deadline > now) continue;
      this.#inFlight.delete(flight);
      // Timers run before I/O in Node's loop: after a stall, a reply may already be waiting.
      // Defer the verdict past the next I/O phase so a stalled event loop is not blamed on Redis.
      setImmediate(flight.expire);
    }
    if (this.#inFlight.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}

/** The connection's socket, as far as corking goes. */
interface CorkableStream {
  cork(): void;
  uncork(): void;
}

/** A command awaiting its reply: failed by the sweep once past its deadline (performance.now() ms). */
interface InFlight {
  /** When it was sent (performance.now() ms): a stall before it is none of its business. */
  since: number;
  deadline: number;
  expire: () => void;
  /** Given its one more timeout after a stall of this process (see #track). */
  graced?: boolean;
}
