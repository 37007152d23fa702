// A pg pool whose every statement is counted, inside transactions too (BEGIN, COMMIT and the
// statements between them), since each connection it opens is a counting client. The test
// helper's CountingPool counts only pool.query, which Prisma's interactive work bypasses.
import pg from "pg";

/** A running count of the statements sent through one pool. */
export interface StatementCounter {
  statements: number;
}

/** A pool of `max` connections to `connectionString`, and the counter its connections increment. */
export function countingPool(connectionString: string, max = 10): { pool: pg.Pool; counter: StatementCounter } {
  const counter: StatementCounter = { statements: 0 };
  class CountingClient extends pg.Client {
    override query(...args: unknown[]): never {
      counter.statements++;
      return (super.query as (...a: unknown[]) => never).apply(this, args);
    }
  }
  const pool = new pg.Pool({ connectionString, max, Client: CountingClient });
  // An idle connection that the server closes (the scratch database dropped at the end of a run)
  // must not crash the benchmark; errors of statements still reach their callers.
  pool.on("error", () => {});
  return { pool, counter };
}
