import pg from "pg";

/**
 * A pg pool that counts the statements Prisma sends outside transactions and can slow them
 * down, so tests see exactly how many round trips reached the database.
 */
export class CountingPool extends pg.Pool {
  queries = 0;
  /** Milliseconds to wait before sending each statement (a slow network or a busy database). */
  delayMs = 0;
  /** Milliseconds to hold each result after the database answered (a slow reader that read early). */
  delayResultMs = 0;

  override query(...args: unknown[]): never {
    this.queries++;
    const run = () => (super.query as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    const sent = this.delayMs === 0 ? run() : sleep(this.delayMs).then(run);
    if (this.delayResultMs === 0) return sent as never;
    const hold = this.delayResultMs;
    return sent.then(async (result) => {
      await sleep(hold);
      return result;
    }) as never;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
