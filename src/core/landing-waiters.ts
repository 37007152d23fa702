/**
 * How a wait ended: a value landed in Redis, the holder stored nothing, nobody woke us in time,
 * or this instance stopped hearing from Redis (no wake-up can arrive).
 */
export type WaitOutcome = "landed" | "nothing" | "timeout" | "unheard";

/** How often a waiter checks that it still hears from Redis. */
const HEARING_CHECK_MS = 50;

/**
 * Readers waiting for another instance's loader to land a value, woken by the bus's "landed"
 * message instead of polling. A waiter not woken within its bound resolves false.
 */
export class LandingWaiters {
  readonly #waiting = new Map<string, Set<(landed: boolean) => void>>();

  /** Registers first (so a landing in between is not missed), then waits until woken or timed out. */
  register(key: string): { wait(timeoutMs: number, hearing?: () => boolean): Promise<WaitOutcome>; cancel(): void } {
    let wake!: (landed: boolean) => void;
    const woken = new Promise<boolean>((resolve) => (wake = resolve));
    let set = this.#waiting.get(key);
    if (set === undefined) this.#waiting.set(key, (set = new Set()));
    set.add(wake);
    const forget = () => {
      set.delete(wake);
      if (set.size === 0 && this.#waiting.get(key) === set) this.#waiting.delete(key);
    };
    return {
      wait: (timeoutMs, hearing) => {
        let timer: NodeJS.Timeout | undefined;
        let check: NodeJS.Timeout | undefined;
        // Timers run before I/O in Node's loop: after a stall of this process, the wake-up (or the
        // heartbeat's reply) may be waiting in a socket. Decide only after the next I/O phase.
        const timedOut = new Promise<WaitOutcome>((resolve) => {
          timer = setTimeout(() => setImmediate(() => resolve("timeout")), timeoutMs);
          if (hearing !== undefined) check = setInterval(() => hearing() || setImmediate(() => hearing() || resolve("unheard")), HEARING_CHECK_MS);
        });
        return Promise.race([woken.then((landed): WaitOutcome => (landed ? "landed" : "nothing")), timedOut]).finally(() => {
          clearTimeout(timer);
          clearInterval(check);
          forget();
        });
      },
      cancel: forget,
    };
  }

  wake(key: string, landed: boolean): void {
    const set = this.#waiting.get(key);
    if (set === undefined) return;
    this.#waiting.delete(key);
    for (const wake of set) wake(landed);
  }

  get size(): number {
    return this.#waiting.size;
  }
}
