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
  readonly #waiting = new Map<string, Set<Waiter>>();

  /**
   * Registers first (so a landing in between is not missed), then waits until woken or timed
   * out. Registering is cheap (every lookup that may take a lock does it, most never wait): the
   * promise is made only by wait().
   */
  register(key: string): { wait(timeoutMs: number, hearing?: () => boolean): Promise<WaitOutcome>; cancel(): void } {
    const waiter: Waiter = { landed: undefined, wake: undefined };
    let set = this.#waiting.get(key);
    if (set === undefined) this.#waiting.set(key, (set = new Set()));
    set.add(waiter);
    const forget = () => {
      set.delete(waiter);
      if (set.size === 0 && this.#waiting.get(key) === set) this.#waiting.delete(key);
    };
    return {
      wait: (timeoutMs, hearing) => {
        const woken = waiter.landed !== undefined ? Promise.resolve(waiter.landed) : new Promise<boolean>((resolve) => (waiter.wake = resolve));
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
    for (const waiter of set) {
      waiter.landed = landed;
      waiter.wake?.(landed);
    }
  }

  get size(): number {
    return this.#waiting.size;
  }
}

/** One registered waiter: how it was woken (before it waited, possibly), and how to wake it while it waits. */
interface Waiter {
  landed: boolean | undefined;
  wake: ((landed: boolean) => void) | undefined;
}
