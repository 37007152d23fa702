/**
 * Concurrent callers for one key share one running load. `shared` tells a caller it joined a
 * load another caller started; `alone`, that no other caller got its value (nobody joined the
 * load it started), so it may hand the value on without copying it.
 *
 * A failed load fails the caller that started it, as its own query would have. A caller that
 * joined it runs its load once more instead (sharing that retry with the others that joined):
 * its own query would have been another one, which a passing failure — a statement timeout
 * behind a lock released since, a dropped connection, another extension's hook — spares. Only
 * once: a failure that lasts reaches every caller, after at most one more query.
 *
 * A load that ends with UnsharedLoad answered its starter only: a caller that joined it runs a
 * load of its own, however often that happens, and never sees the value.
 */
export class SingleFlight<T> {
  readonly #running = new Map<string, { promise: Promise<T>; joined: boolean }>();

  async run(key: string, load: () => Promise<T>, retrying = false): Promise<{ value: T; shared: boolean; alone: boolean }> {
    const running = this.#running.get(key);
    if (running !== undefined) {
      running.joined = true;
      try {
        return { value: await running.promise, shared: true, alone: false };
      } catch (error) {
        // Not a failure: a value for its starter alone. This caller's own load (or one it joins) answers it.
        if (error instanceof UnsharedLoad) return this.run(key, load, retrying);
        if (retrying) throw error;
        // The failed flight is gone by now: its starter's continuation, which removes it, ran first.
        return this.run(key, load, true);
      }
    }
    const flight = { promise: load(), joined: false };
    this.#running.set(key, flight);
    try {
      const value = await flight.promise;
      // Read in the continuation that also removes the flight: nobody can join after this.
      return { value, shared: false, alone: !flight.joined };
    } finally {
      this.#running.delete(key);
    }
  }

  get size(): number {
    return this.#running.size;
  }
}

/**
 * Thrown by a load whose value may answer the read that ran it and nobody else, and must not be
 * stored: the value, and why (a bypass reason). E.g. a read whose tenant (its `scope`) changed
 * before the load ran its tenant filter: the rows are the filter's answer for that read's
 * context, not for the key other reads share.
 */
export class UnsharedLoad extends Error {
  constructor(
    readonly value: unknown,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`a load for its own read only (${reason})`, options);
  }
}
