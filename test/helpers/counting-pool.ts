import pg from "pg";

/**
 * A pg pool that counts the statements Prisma sends outside transactions and can slow them
 * down, so tests see exactly how many round trips reached the database.
 */
export class CountingPool extends pg.Pool {
  queries = 0;
  /** Statements whose result has been handed back. */
  completed = 0;
  /** When set, statements fail with this error (a database outage). */
  failWith: Error | undefined;
  /** Called as each statement is sent (tests advance a fake clock here to simulate load time). */
  onQuery: (() => void) | undefined;
  /** Milliseconds to wait before sending each statement (a slow network or a busy database). */
  delayMs = 0;
  /** Milliseconds to hold each result after the database answered (a slow reader that read early). */
  delayResultMs = 0;

  override query(...args: unknown[]): never {
    this.queries++;
    this.onQuery?.();
    const failure = this.failWith;
    const run = () => (failure ? Promise.reject(failure) : (super.query as (...a: unknown[]) => Promise<unknown>).apply(this, args));
    const sent = this.delayMs === 0 ? run() : sleep(this.delayMs).then(run);
    const hold = this.delayResultMs;
    return sent.then(async (result) => {
      if (hold > 0) await sleep(hold);
      this.completed++;
      return result;
    }) as never;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
