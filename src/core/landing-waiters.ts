/**
 * How a wait ended: a value landed in Redis, the holder stored nothing, nobody woke us in time,
 * this instance stopped hearing from Redis (no wake-up can arrive), or its subscription was
 * (re)made, so a landing may have been missed: look again (not a wake-up by the holder).
 */
export type WaitOutcome = "landed" | "nothing" | "timeout" | "unheard" | "resubscribed";

/** What a waiter can be woken with. */
type WakeUp = "landed" | "nothing" | "resubscribed";

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
  register(key: string): { wait(timeout: number | (() => number), hearing?: () => boolean): Promise<WaitOutcome>; cancel(): void } {
    const waiter: Waiter = { woken: undefined, wake: undefined };
    let set = this.#waiting.get(key);
    if (set === undefined) this.#waiting.set(key, (set = new Set()));
    set.add(waiter);
    const forget = () => {
      set.delete(waiter);
      if (set.size === 0 && this.#waiting.get(key) === set) this.#waiting.delete(key);
    };
    return {
      wait: (timeout, hearing) => {
        const woken = waiter.woken !== undefined ? Promise.resolve(waiter.woken) : new Promise<WakeUp>((resolve) => (waiter.wake = resolve));
        const expiry = expiryOf(timeout);
        let check: NodeJS.Timeout | undefined;
        const timedOut = new Promise<WaitOutcome>((resolve) => {
          void expiry.promise.then(resolve);
          if (hearing !== undefined) check = setInterval(() => hearing() || setImmediate(() => hearing() || resolve("unheard")), HEARING_CHECK_MS);
        });
        return Promise.race([woken, timedOut]).finally(() => {
          expiry.cancel();
          clearInterval(check);
          forget();
        });
      },
      cancel: forget,
    };
  }

  wake(key: string, landed: boolean): void {
    this.#wake(key, landed ? "landed" : "nothing");
  }

  #wake(key: string, outcome: WakeUp): void {
    const set = this.#waiting.get(key);
    if (set === undefined) return;
    this.#waiting.delete(key);
    for (const waiter of set) {
      waiter.woken = outcome;
      waiter.wake?.(outcome);
    }
  }

  /**
   * Wakes every waiter to look again ("resubscribed": a waiter that finds the lock still held
   * waits anew, and has used up none of its attempts — a subscription dropped three times in one
   * wait made every waiter load, outside probe 137). Called when the subscription (re)starts: a
   * landing published while this instance was not subscribed — a fresh instance's first reads, a
   * resubscription — reached none of them, and they would wait out their bound (outside probe
   * 121: 5 s reads in a new instance).
   */
  wakeAll(): void {
    for (const key of [...this.#waiting.keys()]) this.#wake(key, "resubscribed");
  }

  get size(): number {
    return this.#waiting.size;
  }
}

/** One registered waiter: how it was woken (before it waited, possibly), and how to wake it while it waits. */
interface Waiter {
  woken: WakeUp | undefined;
  wake: ((outcome: WakeUp) => void) | undefined;
}

/**
 * Resolves "timeout" once `timeout` has passed: a number of milliseconds, or a function answering
 * how many are left, asked again when they run out (a bound that grew meanwhile keeps the wait
 * going). Timers run before I/O in Node's loop: after a stall of this process, the wake-up (or
 * the heartbeat's reply) may be waiting in a socket, so it decides only after the next I/O phase.
 */
export function expiryOf(timeout: number | (() => number)): { promise: Promise<"timeout">; cancel(): void } {
  const deadline = typeof timeout === "number" ? performance.now() + timeout : undefined;
  const left = typeof timeout === "number" ? () => deadline! - performance.now() : timeout;
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  const promise = new Promise<"timeout">((resolve) => {
    const arm = (ms: number) => {
      timer = setTimeout(() => setImmediate(() => {
        if (cancelled) return;
        const more = left();
        if (more > 0 && typeof timeout === "function") arm(more);
        else resolve("timeout");
      }), Math.max(0, ms));
    };
    arm(left());
  });
  return {
    promise,
    cancel: () => {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}
