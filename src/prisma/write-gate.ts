import { CacheClosedError } from "../errors.js";
import { settleWithin } from "../core/settle-within.js";

/**
 * Admits writes while the cache is open and keeps those in flight, so that close() lets them
 * invalidate what they changed before it closes the connections. After close() began a write is
 * refused before it touches the database: its invalidation could reach no other instance, which
 * would serve their copies of what it changed until they expire.
 */
export class WriteGate {
  #closed = false;
  readonly #inFlight = new Set<PromiseLike<unknown>>();

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `write` and keeps it until it settles, or rejects with CacheClosedError (without running it) once close() began. */
  admit<T>(operation: string, write: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new CacheClosedError(operation));
    return this.track(write());
  }

  /** Keeps a write already running (a transaction, a write's part of a batch) until it settles. */
  track<T extends PromiseLike<unknown>>(running: T): T {
    this.#inFlight.add(running);
    const forget = () => void this.#inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  /** Throws CacheClosedError once close() began. */
  refuseIfClosed(operation: string): void {
    if (this.#closed) throw new CacheClosedError(operation);
  }

  /** Refuses writes from now on, then waits up to `timeoutMs` for those in flight; resolves with how many still run. */
  async close(timeoutMs: number): Promise<number> {
    this.#closed = true;
    if (this.#inFlight.size === 0) return 0;
    const settled = await settleWithin(Promise.allSettled([...this.#inFlight]), timeoutMs);
    return settled ? 0 : this.#inFlight.size;
  }
}
