import type { Counters } from "../stats/counters.js";
import { REPLAY_LIMIT } from "./bump-batches.js";

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;
/** Queued confirmations whose marks are removed on delivery; beyond this many, marks just lapse. */
const MAX_QUEUED_CONFIRMATIONS = 1_000;

/** How the backlog reaches Redis: Versions' bump, with or without removing a write's dirty marks. */
export interface BacklogDelivery {
  /** Bumps `names` (removing the marks of write `token` when given); false if Redis could not take it. */
  send(names: readonly string[], confirming?: string): Promise<boolean>;
  counters: Counters;
  /** Names whose bump invalidates every entry (all models' generations): what a backlog too long to replay becomes. */
  namespaceWide?: () => readonly string[];
}

/**
 * Invalidations Redis could not take yet, retried with exponential backoff until delivered. While a
 * name is queued, nothing about it may be cached. A backlog too long to replay collapses into one
 * namespace-wide bump as soon as it grows past REPLAY_LIMIT names: from then on every name counts
 * as queued, and none is held (outside probe 288: a long outage held every name a write named,
 * 150–250 bytes each, growing for as long as it lasted, to be replaced by that bump anyway).
 */
export class InvalidationBacklog {
  readonly #delivery: BacklogDelivery;
  /** Queued names, with when (performance.now()) each was last queued: only a bump sent later covers it. */
  readonly #pending = new Map<string, number>();
  /**
   * Collapsed: when (performance.now()) the last name was queued since the backlog collapsed
   * (see the class); only a namespace-wide bump sent later delivers it. Undefined otherwise.
   */
  #collapsedAt: number | undefined;
  /** How many names were queued into the collapsed backlog (repeats counted): its size. */
  #collapsedCount = 0;
  /** Confirmations queued with the backlog: their dirty marks are removed once it is delivered (else they lapse). */
  readonly #pendingConfirmations: Array<{ token: string; names: readonly string[] }> = [];
  #retryDelay = RETRY_MIN_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The flush running, and the one asked for meanwhile (see flush). */
  #flushing: Promise<boolean> | undefined;
  #nextFlush: Promise<boolean> | undefined;

  constructor(delivery: BacklogDelivery) {
    this.#delivery = delivery;
  }

  get size(): number {
    return this.#collapsedAt === undefined ? this.#pending.size : this.#collapsedCount;
  }

  has(name: string): boolean {
    return this.#collapsedAt !== undefined || this.#pending.has(name);
  }

  /** Whether any of `names` is queued. */
  hasAny(names: readonly string[]): boolean {
    if (this.#collapsedAt !== undefined) return names.length > 0;
    if (this.#pending.size === 0) return false;
    return names.some((name) => this.#pending.has(name));
  }

  /**
   * Names queued and not delivered yet (a collapsed backlog's: the namespace-wide names), and those
   * whose write's marks are still to be removed (what close() reports when it cannot deliver them:
   * a queue of confirmations alone is not "0 names").
   */
  names(): string[] {
    const names = new Set(this.#collapsedAt === undefined ? this.#pending.keys() : this.#delivery.namespaceWide!());
    for (const confirmation of this.#pendingConfirmations) for (const name of confirmation.names) names.add(name);
    return [...names];
  }

  /** Queues a bump Redis did not take (and the confirmation of write `confirming`), and schedules a retry. */
  add(names: readonly string[], confirming: string | undefined): void {
    const queuedAt = performance.now();
    if (this.#collapsedAt !== undefined) {
      this.#collapsedAt = queuedAt;
      this.#collapsedCount += names.length;
    } else {
      for (const name of names) this.#pending.set(name, queuedAt);
      if (this.#pending.size > REPLAY_LIMIT && this.#delivery.namespaceWide !== undefined) {
        this.#collapsedAt = queuedAt;
        this.#collapsedCount = this.#pending.size;
        this.#pending.clear();
      }
    }
    if (confirming !== undefined && this.#pendingConfirmations.length < MAX_QUEUED_CONFIRMATIONS) this.#pendingConfirmations.push({ token: confirming, names });
    this.#delivery.counters.invalidationsQueued++;
    this.#scheduleRetry();
  }

  /**
   * A bump of `names` sent at `sentAt` was applied by every instance: those queued before it was
   * sent need no retry (their writes committed before Redis took it). One queued since may
   * belong to a write that committed after, and stays.
   */
  delivered(names: readonly string[], sentAt: number): void {
    // A collapsed backlog waits for its namespace-wide bump (see flush).
    if (this.#pending.size === 0) return;
    for (const name of names) this.#settle(name, sentAt);
  }

  /**
   * Tries once more to deliver queued invalidations, in order and in bounded batches; a backlog
   * too long to replay is delivered as one namespace-wide bump. Then removes the queued writes'
   * marks. Used by the retry timer, a regained registration (retryNow) and close(); true once
   * nothing is left to send. One at a time: a flush asked for while one runs starts when it ends
   * and sends what it left (asks meanwhile share it), never the same backlog again — three at
   * once sent a collapsed backlog's namespace-wide bump three times.
   */
  flush(): Promise<boolean> {
    if (this.#flushing === undefined) return this.#startFlush();
    const next = () => ((this.#nextFlush = undefined), this.#startFlush());
    this.#nextFlush ??= this.#flushing.then(next, next);
    return this.#nextFlush;
  }

  #startFlush(): Promise<boolean> {
    const flushing: Promise<boolean> = this.#flushOnce().finally(() => {
      if (this.#flushing === flushing) this.#flushing = undefined;
    });
    this.#flushing = flushing;
    return flushing;
  }

  async #flushOnce(): Promise<boolean> {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#collapsedAt !== undefined) {
      const sentAt = performance.now();
      if (!(await this.#delivery.send(this.#delivery.namespaceWide!()))) return false;
      // Names queued while it was on the way need another: they may belong to writes that committed after it.
      if (this.#collapsedAt >= sentAt) return false;
      // Counted once, when delivered: not per namespace-wide bump sent (outside probe 290 counted one collapse twice).
      this.#delivery.counters.invalidationBacklogsCollapsed++;
      this.#collapsedAt = undefined;
      this.#collapsedCount = 0;
    } else if (this.#pending.size > 0) {
      const sentAt = performance.now();
      const backlog = [...this.#pending.keys()];
      if (!(await this.#delivery.send(backlog))) return false;
      for (const name of backlog) this.#settle(name, sentAt);
      // Collapsed while these names were on the way (outside probe 290: reported delivered, and drain() resolved, with 11 000 queued).
      if (this.#collapsedAt !== undefined) return false;
    }
    return this.#removeMarks();
  }

  /**
   * Confirms the queued writes, removing their dirty marks, once their names were delivered —
   * by a flush or by any bump applied everywhere since (`delivered`), which leaves the names
   * settled and only the marks to go. A confirmation Redis did not take stays queued: marks left
   * standing would keep their records uncached until they lapse, minutes later.
   */
  async #removeMarks(): Promise<boolean> {
    const due = this.#pendingConfirmations.splice(0);
    if (due.length === 0) return true;
    const sent = await Promise.all(due.map(({ token, names }) => this.#delivery.send(names, token)));
    const failed = due.filter((_, i) => !sent[i]);
    this.#pendingConfirmations.push(...failed);
    return failed.length === 0;
  }

  /** Resolves true once none of `names` is queued any more (delivered), false after `timeoutMs`. */
  async waitDelivered(names: Iterable<string>, timeoutMs: number): Promise<boolean> {
    const list = [...names];
    const deadline = performance.now() + timeoutMs;
    while (this.hasAny(list)) {
      if (performance.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return true;
  }

  /** Delivers the queue now instead of at the next retry (Redis is back). */
  retryNow(): void {
    if (this.size === 0 && this.#pendingConfirmations.length === 0) return;
    this.#retryDelay = RETRY_MIN_MS;
    void this.flush().then((delivered) => {
      if (!delivered) this.#scheduleRetry();
    });
  }

  #settle(name: string, sentAt: number): void {
    const queuedAt = this.#pending.get(name);
    if (queuedAt !== undefined && queuedAt < sentAt) this.#pending.delete(name);
  }

  /** Retries no more (close() reported what is left). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#stopped) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.flush().then((delivered) => {
        this.#retryDelay = delivered ? RETRY_MIN_MS : Math.min(RETRY_MAX_MS, this.#retryDelay * 2);
        if (!delivered) this.#scheduleRetry();
      });
    }, this.#retryDelay);
    this.#retryTimer.unref();
  }
}
