/**
 * Concurrent callers for one key share one running load. `shared` tells a caller it joined a
 * load another caller started; `alone`, that no other caller got its value (nobody joined the
 * load it started), so it may hand the value on without copying it.
 */
export class SingleFlight<T> {
  readonly #running = new Map<string, { promise: Promise<T>; joined: boolean }>();

  async run(key: string, load: () => Promise<T>): Promise<{ value: T; shared: boolean; alone: boolean }> {
    const running = this.#running.get(key);
    if (running !== undefined) {
      running.joined = true;
      return { value: await running.promise, shared: true, alone: false };
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
