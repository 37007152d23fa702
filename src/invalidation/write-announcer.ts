import { randomUUID } from "node:crypto";
import { CacheUnavailableError } from "../errors.js";
import type { RedisDownWrites } from "../failure-options.js";
import type { Counters } from "../stats/counters.js";
import type { Announcement, Versions } from "./versions.js";

export interface WriteAnnouncerOptions {
  versions: Versions;
  counters: Counters;
  onRedisDown: RedisDownWrites;
  /** How long an unannounced write whose invalidation was queued waits for its delivery before resolving anyway (counted). */
  deliveryWaitMs: number;
  /** How long a write of unknown outcome may still commit: its marks stand that long (`lateCommitWindow`). */
  lateCommitWindowMs: number;
  /** Whether there is a fleet to announce to (Redis configured). */
  enabled: boolean;
  /**
   * Bumps names once the write committed, removing the announcement's dirty marks; false if queued.
   * `waitIfQueued` false: resolves at once when Redis cannot take it (see Versions.bump).
   */
  bump(names: Iterable<string>, confirming: string | undefined, addsIdentities: boolean, waitIfQueued?: boolean, onTaken?: () => void): Promise<boolean>;
}

/** An announcement's outcome: what announce() resolved with, or what it threw. */
export type Announced = { announcement: Announcement | undefined } | { error: unknown };

/**
 * Makes a committed write's invalidation impossible to lose: the names a write will change are
 * announced (bumped and marked dirty in Redis) before it touches the database, and confirmed
 * (bumped again, marks removed) after it committed. A writer cut off or stopped between the two
 * leaves the marks standing, so no instance serves or stores those names until they lapse.
 */
export class WriteAnnouncer {
  readonly #options: WriteAnnouncerOptions;

  constructor(options: WriteAnnouncerOptions) {
    this.#options = options;
  }

  /**
   * Announces before the database write. If Redis cannot take it the write is refused (typed
   * error, nothing written) or proceeds unannounced — a counted risk — as `onRedisDownWrites` says:
   * then the announcement returned protects no name (`names` is empty) but carries the token to clear.
   */
  async announce(names: Iterable<string>, what: string, token: string = randomUUID(), addsIdentities = true): Promise<Announcement | undefined> {
    if (!this.#options.enabled) return undefined;
    const list = [...names];
    const announcement = await this.#options.versions.announce(list, token, addsIdentities);
    if (announcement !== undefined) return announcement;
    // Redis did not answer in time, which does not mean it will not run the script: a command that
    // timed out stays in the connection's pipeline, and ioredis resends an unanswered one after
    // reconnecting. Its marks would then stand, unconfirmed, until they lapse (minutes of reads
    // bypassing the cache). So the token is kept: the confirmation clears it wherever it landed.
    if (this.#options.onRedisDown === "refuse") {
      this.#options.counters.refusedWrites++;
      // Nothing is written, but marks that land late must go too: a clearing bump, retried until delivered.
      void this.#options.bump(list, token, false);
      throw new CacheUnavailableError(what);
    }
    this.#options.counters.unannouncedWrites++;
    return { token, names: new Set() };
  }

  /** announce(), its outcome kept as a value: no unhandled rejection while the write it announces runs. */
  announceSettled(names: Iterable<string>, what: string, token?: string, addsIdentities = true): Promise<Announced> {
    return this.announce(names, what, token, addsIdentities).then(
      (announcement) => ({ announcement }),
      (error: unknown) => ({ error }),
    );
  }

  /** Whether a write Redis cannot take is refused (`onRedisDownWrites: "refuse"`): its announcement must then be awaited before the database is touched. */
  get refusesUnannounced(): boolean {
    return this.#options.onRedisDown === "refuse";
  }

  /**
   * Announces while the database write runs: the announcement is sent first, and the write is
   * started without waiting for Redis's reply, so a write pays one Redis round trip in series
   * (the confirmation), not two. Whether Redis took the announcement before or after the commit
   * does not matter to a healthy fleet: the confirmation invalidates and is acknowledged before
   * the write resolves, and a load that raced the write stored nothing newer than a version the
   * announcement or the confirmation bumps. The announcement matters only once the writer is
   * cut off or stopped after its commit, and its bytes left for Redis before the write's. One
   * Redis could not take is the unannounced write of `"proceed"` (counted; the confirmation then
   * waits for delivery). With `onRedisDownWrites: "refuse"` the write starts only once Redis took
   * the announcement, as refusing must happen before the database is touched.
   * Resolves like `run` (rethrowing its error) with the announcement, undefined if there was none.
   */
  async alongside<T>(names: Iterable<string>, what: string, addsIdentities: boolean, run: () => PromiseLike<T>): Promise<{ result: T; announcement: Announcement | undefined } | { error: unknown; announcement: Announcement | undefined }> {
    const announcing = this.announceSettled(names, what, undefined, addsIdentities);
    // "refuse": nothing touches the database before Redis took the announcement (or refused the write).
    const first = this.refusesUnannounced ? await announcing : undefined;
    if (first !== undefined && "error" in first) throw first.error;
    let outcome: { result: T } | { error: unknown };
    try {
      outcome = { result: await run() };
    } catch (error) {
      outcome = { error };
    }
    const announced = first ?? (await announcing);
    // Not a Redis failure (those are counted as unannounced): a bug, reported as the write's error.
    if ("error" in announced) throw announced.error;
    return { ...outcome, announcement: announced.announcement };
  }

  /**
   * After the write committed (or failed): bumps what it changed and removes its marks. If Redis
   * cannot take that, the bump is queued and retried; the write still resolves safely, since the
   * marks keep the names uncached until they lapse. A write that was not announced waits up to
   * `deliveryWaitMs` for the queued bump instead. `addsIdentities`: false when the write cannot
   * have created a record identity (an update that keeps its unique fields): no Bloom additions.
   *
   * Why nobody acknowledges the announcement: its acknowledgements could only matter here, when
   * the confirmation fails, and by then Versions.bump has waited until one lease after the failure.
   * Redis processed the announcement before its reply came back, so before that failure: every
   * instance has since either renewed its lease with a PING sent after the announcement — its reply
   * follows the announcement's message on the subscriber connection, so the instance applied it —
   * or lost its lease and serves nothing from L1. Entries loaded after the announcement are
   * neither served from nor stored in Redis while its marks stand (read as "write in progress").
   */
  async confirm(names: Iterable<string>, announcement: Announcement | undefined, addsIdentities = true, onTaken?: () => void): Promise<void> {
    return this.#settle([...names], announcement, addsIdentities, announcement?.token, onTaken);
  }

  /**
   * After a write the database refused (nothing committed): removes its announcement's marks. The
   * bump only over-invalidates, so nothing waits for it: if Redis cannot take it, it is queued and
   * retried, and the write's error is thrown at once (not after a lease and `redisDownWriteWait`,
   * which protect a write that changed something).
   */
  async withdraw(names: Iterable<string>, announcement: Announcement): Promise<void> {
    await this.#options.bump([...names], announcement.token, false, false);
  }

  /**
   * After a write that failed without the database saying it refused it (see write-outcome.ts):
   * it may have committed, or the server may still commit it once the client gave up. Marks
   * `names` (more than were announced: what its result would have revealed) with the write's
   * token and bumps them as a confirmation does, so nothing cached before is served, but leaves
   * the marks (the announcement's too: one token) to lapse after `lateCommitWindow`: until then
   * no instance serves or stores an entry depending on them, whenever that commit lands.
   */
  async unresolved(names: Iterable<string>, announcement: Announcement | undefined): Promise<void> {
    const list = [...names];
    // Not taken by Redis: the bump below is queued, and the write waits for its delivery.
    if (this.#options.enabled) await this.#options.versions.announce(list, announcement?.token ?? randomUUID(), true, this.#options.lateCommitWindowMs);
    return this.#settle(list, announcement, true, undefined);
  }

  /** Bumps `list`, clearing the marks of `clearing` (a token); queued and waited for as confirm() says if Redis cannot take it. */
  async #settle(list: string[], announcement: Announcement | undefined, addsIdentities: boolean, clearing: string | undefined, onTaken?: () => void): Promise<void> {
    if (await this.#options.bump(list, clearing, addsIdentities, true, onTaken)) return;
    // What the announcement did not cover (all of it if Redis did not take it; else names only the
    // result revealed) is not protected yet: wait (bounded) for the queue to deliver it — a short outage
    // then costs latency, not a stale read — then resolve anyway, counted.
    const uncovered = announcement === undefined ? list : list.filter((name) => !announcement.names.has(name));
    if (uncovered.length === 0) return;
    if (!(await this.#options.versions.delivered(uncovered, this.#options.deliveryWaitMs))) this.#options.counters.undeliveredWrites++;
  }
}
