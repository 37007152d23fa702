import type { PrismaPromiseLike } from "./lazy-query.js";
import { PrismaLikePromise, type BatchTransaction } from "./prisma-like-promise.js";

/**
 * A raw statement that may write: awaited, `run` announces, runs it and then invalidates the
 * models it touches (all of them unless `$cache.raw()` named them). Prisma-compatible, like LazyQuery.
 */
export class RawWrite extends PrismaLikePromise {
  /** Models named through `$cache.raw()`; undefined means every model. */
  models: readonly string[] | undefined;

  constructor(
    readonly query: PrismaPromiseLike,
    readonly client: object,
    readonly run: (write: RawWrite) => Promise<unknown>,
  ) {
    super();
  }

  requestTransaction(batch: BatchTransaction): PromiseLike<unknown> {
    return this.query.requestTransaction?.(batch) ?? this.query;
  }

  protected execute(): Promise<unknown> {
    return this.run(this);
  }
}

export { rawSqlMayWrite } from "./raw-sql.js";
