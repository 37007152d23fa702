import type { LazyQuery, PrismaPromiseLike } from "./lazy-query.js";
import { WrappedWrite } from "./prisma-like-promise.js";

/**
 * `prisma.post.update(…).author()`: Prisma's fluent query on a write (`query`, uncached), which
 * answers with the related record, not the written one. Lazy and Prisma-compatible like the write
 * itself: nothing runs until it is awaited, and in `$transaction([...])` the plain query joins the batch.
 */
export class FluentWrite extends WrappedWrite<FluentWrite> {
  constructor(
    /** The write the relation is read from (its model, operation and arguments). */
    readonly write: LazyQuery,
    query: PrismaPromiseLike,
    run: (fluent: FluentWrite) => Promise<unknown>,
  ) {
    super(query, run);
  }
}
