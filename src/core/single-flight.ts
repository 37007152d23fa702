/**
 * Concurrent callers for one key share one running load. `shared` tells a caller it joined a
 * load another caller started.
 */
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>();

  async run(key: string, load: () => Promise<T>): Promise<{ value: T; shared: boolean }> {
    const running = this.#running.get(key);
    if (running !== undefined) return { value: await running, shared: true };
    const promise = load();
    this.#running.set(key, promise);
    try {
      return { value: await promise, shared: false };
    } finally {
      this.#running.delete(key);
    }
  }

  get size(): number {
    return this.#running.size;
  }
}
