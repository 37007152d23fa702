/**
 * Which Redis replies may still teach this process a version. A reply travels on the command
 * connection, an invalidation on the subscriber connection: a reply computed before a write may
 * arrive after the write's message. So every read takes a stamp when it is sent, every
 * invalidation (and every forget) moves the stamp on, and a name dropped at stamp S is learnt
 * again only from a read sent at S or later — never from one that may predate the write.
 */
export class DistrustLedger {
  /** Name → the stamp at which it was dropped. Insertion order is stamp order. */
  readonly #dropped = new Map<string, number>();
  /** Reads in flight, by the stamp they were sent at. */
  readonly #inFlight = new Map<number, number>();
  readonly #maxNames: number;
  #stamp = 0;
  #forgottenAt = 0;

  constructor(maxNames: number) {
    this.#maxNames = maxNames;
  }

  /** Call before sending a Redis read whose reply will teach versions; pair with `end`. */
  begin(): number {
    const stamp = this.#stamp;
    this.#inFlight.set(stamp, (this.#inFlight.get(stamp) ?? 0) + 1);
    return stamp;
  }

  end(stamp: number): void {
    const count = (this.#inFlight.get(stamp) ?? 1) - 1;
    if (count === 0) this.#inFlight.delete(stamp);
    else this.#inFlight.set(stamp, count);
  }

  /** Whether a reply to a read sent at `sentAt` may teach `name`'s version (and, if so, stop distrusting it). */
  mayLearn(name: string, sentAt: number): boolean {
    if (sentAt < this.#forgottenAt) return false;
    if (this.#dropped.size === 0) return true;
    const since = this.#dropped.get(name);
    if (since === undefined) return true;
    if (sentAt < since) return false;
    this.#dropped.delete(name);
    return true;
  }

  /** Distrusts `names` from now on. */
  drop(names: readonly string[]): void {
    const stamp = ++this.#stamp;
    for (const name of names) {
      // Re-inserted at the end, so the map stays in stamp order.
      this.#dropped.delete(name);
      this.#dropped.set(name, stamp);
    }
    if (this.#dropped.size > this.#maxNames) this.#prune();
  }

  /** Distrusts every reply sent before now. */
  forgetAll(): void {
    this.#dropped.clear();
    this.#forgottenAt = ++this.#stamp;
  }

  /** Entries no read in flight can contradict are no longer needed (names nobody read again). */
  #prune(): void {
    let oldest = Infinity;
    for (const stamp of this.#inFlight.keys()) oldest = Math.min(oldest, stamp);
    for (const [name, since] of this.#dropped) {
      if (since > oldest) break;
      this.#dropped.delete(name);
    }
    // Reads stuck in flight for long would keep it growing: then nothing sent before now is trusted.
    if (this.#dropped.size > this.#maxNames) this.forgetAll();
  }
}
