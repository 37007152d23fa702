import type { LazyQuery, PrismaPromiseLike } from "./lazy-query.js";
import { PrismaLikePromise, type BatchTransaction } from "./prisma-like-promise.js";

/**
 * `prisma.post.update(…).author()`: Prisma's fluent query on a write, which answers with the
 * related record, not the written one. Lazy and Prisma-compatible like the write itself: nothing
 * runs until it is awaited, and in `$transaction([...])` the plain fluent query joins the batch.
 */
export class FluentWrite extends PrismaLikePromise {
  constructor(
    /** The write the relation is read from (its model, operation and arguments). */
    readonly write: LazyQuery,
    /** Prisma's own fluent query, uncached. */
    readonly related: PrismaPromiseLike,
    readonly run: (fluent: FluentWrite) => Promise<unknown>,
  ) {
    super();
  }

  requestTransaction(batch: BatchTransaction): PromiseLike<unknown> {
    return this.related.requestTransaction?.(batch) ?? this.related;
  }

  protected execute(): Promise<unknown> {
    return this.run(this);
  }
}
