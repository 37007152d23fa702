import pg from "pg";

/**
 * A pg pool that counts the statements Prisma sends outside transactions and can slow them
 * down, so tests see exactly how many round trips reached the database.
 */
export class CountingPool extends pg.Pool {
  queries = 0;
  delayMs = 0;

  override query(...args: unknown[]): never {
    this.queries++;
    const run = () => (super.query as (...a: unknown[]) => unknown).apply(this, args);
    if (this.delayMs === 0) return run() as never;
    return new Promise((resolve) => setTimeout(resolve, this.delayMs)).then(run) as never;
  }
}
