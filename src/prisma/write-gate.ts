import { CacheClosedError } from "../errors.js";
import { settleWithin } from "../core/settle-within.js";

/** What a write in flight would invalidate: asked only if it still runs when close() closes the connections. */
export type PendingNames = () => Iterable<string>;

const NO_NAMES: PendingNames = () => [];

/**
 * How far a write kept by the gate got: until Redis took its confirmation, close() reports what
 * it would invalidate (`names`) as undelivered if it still runs when the connections close; once
 * taken, it only waits for the other instances' acknowledgements (or their leases), and nothing is
 * reported (outside probe 167: close() rejected for a write Redis had taken, waiting for an
 * instance frozen by SIGSTOP). An interactive transaction sets `names` once its buffer exists.
 */
export class WriteProgress {
  #taken = false;

  constructor(public names: PendingNames) {}

  /** Redis took the write's confirmation. */
  readonly taken = (): void => {
    this.#taken = true;
  };

  /** What close() reports if the write still runs then (see WriteGate.runningNames). */
  readonly pending: PendingNames = () => (this.#taken ? [] : this.names());
}

/**
 * Admits writes while the cache is open and keeps those in flight, so that close() lets them
 * invalidate what they changed before it closes the connections. After close() began a write is
 * refused before it touches the database: its invalidation could reach no other instance, which
 * would serve their copies of what it changed until they expire.
 *
 * One exception while close() waits (draining): the writes of an interactive transaction that was
 * asked for before close() began are admitted, and so is its commit, so that it can finish as it
 * would have (close() waits for it anyway). Once the wait ends, they are refused too.
 */
export class WriteGate {
  #state: "open" | "draining" | "closed" = "open";
  readonly #inFlight = new Map<PromiseLike<unknown>, PendingNames>();

  /** Whether close() began: new writes are refused (see admit for the exception). */
  get closed(): boolean {
    return this.#state !== "open";
  }

  /**
   * Runs `write` and keeps it until it settles, or rejects with CacheClosedError (without running
   * it) once close() began — unless `drains()` says so (a write of a transaction asked for before close())
   * and close() is still waiting.
   */
  admit<T>(operation: string, write: () => Promise<T>, drains?: () => boolean, names: PendingNames = NO_NAMES): Promise<T> {
    if (!this.#admits(drains)) return Promise.reject(new CacheClosedError(operation));
    return this.track(write(), names);
  }

  /** Keeps a write already running (a transaction, a write's part of a batch) until it settles. */
  track<T extends PromiseLike<unknown>>(running: T, names: PendingNames = NO_NAMES): T {
    this.#inFlight.set(running, names);
    const forget = () => void this.#inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  /**
   * What the writes still running would invalidate: once close() closes the connections they
   * cannot deliver it, so close() reports it as undelivered (it resolved "ok" before while a write
   * it had stopped waiting for resolved later, undelivered: outside probe 163).
   */
  runningNames(): string[] {
    const names = new Set<string>();
    for (const pending of this.#inFlight.values()) for (const name of pending()) names.add(name);
    return [...names];
  }

  /** Throws CacheClosedError once close() began (with admit's exception for `drains`). */
  refuseIfClosed(operation: string, drains?: () => boolean): void {
    if (!this.#admits(drains)) throw new CacheClosedError(operation);
  }

  /** Refuses writes from now on, then waits up to `timeoutMs` for those in flight; resolves with how many still run. */
  async close(timeoutMs: number): Promise<number> {
    this.#state = "draining";
    try {
      if (this.#inFlight.size === 0) return 0;
      const settled = await settleWithin(Promise.allSettled([...this.#inFlight.keys()]), timeoutMs);
      return settled ? 0 : this.#inFlight.size;
    } finally {
      this.#state = "closed";
    }
  }

  #admits(drains: (() => boolean) | undefined): boolean {
    return this.#state === "open" || (this.#state === "draining" && drains !== undefined && drains());
  }
}
