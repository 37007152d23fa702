import { CacheClosedError } from "../errors.js";
import { settleWithin } from "../core/settle-within.js";

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
  readonly #inFlight = new Set<PromiseLike<unknown>>();

  /** Whether close() began: new writes are refused (see admit for the exception). */
  get closed(): boolean {
    return this.#state !== "open";
  }

  /**
   * Runs `write` and keeps it until it settles, or rejects with CacheClosedError (without running
   * it) once close() began — unless `drains()` says so (a write of a transaction asked for before close())
   * and close() is still waiting.
   */
  admit<T>(operation: string, write: () => Promise<T>, drains?: () => boolean): Promise<T> {
    if (!this.#admits(drains)) return Promise.reject(new CacheClosedError(operation));
    return this.track(write());
  }

  /** Keeps a write already running (a transaction, a write's part of a batch) until it settles. */
  track<T extends PromiseLike<unknown>>(running: T): T {
    this.#inFlight.add(running);
    const forget = () => void this.#inFlight.delete(running);
    running.then(forget, forget);
    return running;
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
      const settled = await settleWithin(Promise.allSettled([...this.#inFlight]), timeoutMs);
      return settled ? 0 : this.#inFlight.size;
    } finally {
      this.#state = "closed";
    }
  }

  #admits(drains: (() => boolean) | undefined): boolean {
    return this.#state === "open" || (this.#state === "draining" && drains !== undefined && drains());
  }
}
