import { recall, remember, type Remembered } from "../core/wait-bound.js";

/**
 * A read waits at most this many times the longest recent write of this process (halving every
 * 0.5 s, like WaitBound's loads): a write slower than that (blocked on a row lock, waiting out a
 * Redis fault) is not worth waiting for — the database answers its readers sooner.
 */
const WRITE_MULTIPLE = 4;

/**
 * The writes this process has in flight (announced, not yet confirmed), by the version names they
 * announced. A read of this process that depends on one of those names waits for them rather
 * than reading the database while their marks stand: when a hot row is written, every read of it
 * during the write would otherwise be a database query of its own (a herd that lasts as long as
 * the write), where after the write one load serves them all. Only this process's writes: their
 * writer is known to be alive and about to confirm, while a mark of another instance's may stand
 * for a writer that died (that read bypasses the cache, as before).
 */
export class LocalWrites {
  readonly #byName = new Map<string, Set<InFlightWrite>>();
  readonly #longest = new Map<string, Remembered>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /**
   * How long a read may wait for writes now: WRITE_MULTIPLE × the longest recent write; undefined
   * before this process finished any write (a first write, on a cold client, may take long).
   */
  waitLimitMs(): number | undefined {
    const longest = recall(this.#longest, "", this.#now());
    return longest === undefined ? undefined : WRITE_MULTIPLE * longest;
  }

  /** Registers a write announcing `names`; call the returned function once it is confirmed (or failed). */
  begin(names: Iterable<string>): () => void {
    const write = new InFlightWrite();
    const started = this.#now();
    const list = [...names];
    for (const name of list) {
      let writes = this.#byName.get(name);
      if (writes === undefined) this.#byName.set(name, (writes = new Set()));
      writes.add(write);
    }
    return () => {
      for (const name of list) {
        const writes = this.#byName.get(name);
        writes?.delete(write);
        if (writes?.size === 0) this.#byName.delete(name);
      }
      if (write.finish()) remember(this.#longest, "", this.#now() - started, this.#now());
    };
  }

  /** Settles once every write in flight now that announced one of `names` has finished; undefined when there is none. */
  finished(names: readonly string[]): Promise<void> | undefined {
    if (this.#byName.size === 0) return undefined;
    let pending: Promise<void>[] | undefined;
    for (const name of names) {
      const writes = this.#byName.get(name);
      if (writes !== undefined) for (const write of writes) (pending ??= []).push(write.done());
    }
    if (pending === undefined) return undefined;
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(nothing);
  }
}

/** One write in flight; its promise is made only when a read waits for it. */
class InFlightWrite {
  #done: Promise<void> | undefined;
  #resolve: (() => void) | undefined;
  #finished = false;

  done(): Promise<void> {
    if (this.#finished) return Promise.resolve();
    return (this.#done ??= new Promise((resolve) => (this.#resolve = resolve)));
  }

  /** True the first time. */
  finish(): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    this.#resolve?.();
    return true;
  }
}

const nothing = () => undefined;
