import type { PrismaPromiseLike } from "./lazy-query.js";
import { WrappedWrite, type OnBatch } from "./prisma-like-promise.js";
import { rawSqlMayTruncate } from "./raw-sql.js";

/**
 * A raw statement that may write: awaited, `run` announces, runs it and then invalidates the
 * models it touches (all of them unless `$cache.raw()` named them). Prisma-compatible, like LazyQuery.
 */
export class RawWrite extends WrappedWrite<RawWrite> {
  /** Models named through `$cache.raw()`; undefined means every model. */
  models: readonly string[] | undefined;

  constructor(
    query: PrismaPromiseLike,
    readonly client: object,
    /** The statement's arguments (`$executeRaw`'s): read for `truncates` only when models are named. */
    readonly args: readonly unknown[],
    run: (write: RawWrite) => Promise<unknown>,
    onBatch?: OnBatch<RawWrite>,
  ) {
    super(query, run, onBatch);
  }

  /** Whether the statement may be a `TRUNCATE` (which with `CASCADE` empties every referencing table). */
  get truncates(): boolean {
    return rawSqlMayTruncate(this.args);
  }
}

export { rawSqlMayWrite } from "./raw-sql.js";
