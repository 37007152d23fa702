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
