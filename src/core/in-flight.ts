/**
 * The work a cache has started and not finished: reads past their L1 miss and the Redis stores
 * they started (which outlive the read: its caller has its value before Redis has the entry).
 * close() waits for it before it closes the connections the work uses.
 */
export class InFlight {
  readonly #running = new Set<Promise<unknown>>();

  get size(): number {
    return this.#running.size;
  }

  /** Counts `work` until it settles; returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#running.add(work);
    const done = () => void this.#running.delete(work);
    work.then(done, done);
    return work;
  }

  /** Resolves once nothing is running, work started meanwhile (a read's store) included. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled(this.#running);
  }
}
