/**
 * Readers waiting for another instance's loader to land a value, woken by the bus's "landed"
 * message instead of polling. A waiter not woken within its bound resolves false.
 */
export class LandingWaiters {
  readonly #waiting = new Map<string, Set<() => void>>();

  /** Registers first (so a landing in between is not missed), then waits until woken or timed out. */
  register(key: string): { wait(timeoutMs: number): Promise<boolean>; cancel(): void } {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let set = this.#waiting.get(key);
    if (set === undefined) this.#waiting.set(key, (set = new Set()));
    set.add(wake);
    const forget = () => {
      set.delete(wake);
      if (set.size === 0 && this.#waiting.get(key) === set) this.#waiting.delete(key);
    };
    return {
      wait: (timeoutMs) => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
        return Promise.race([woken.then(() => true), timedOut]).finally(() => {
          clearTimeout(timer);
          forget();
        });
      },
      cancel: forget,
    };
  }

  wake(key: string): void {
    const set = this.#waiting.get(key);
    if (set === undefined) return;
    this.#waiting.delete(key);
    for (const wake of set) wake();
  }

  get size(): number {
    return this.#waiting.size;
  }
}
