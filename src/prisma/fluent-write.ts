import type { LazyQuery, PrismaPromiseLike } from "./lazy-query.js";
import { WrappedWrite, type OnBatch } from "./prisma-like-promise.js";

/**
 * `prisma.post.update(…).author()`: Prisma's fluent query on a write (`query`, uncached), which
 * answers with the related record, not the written one. Lazy and Prisma-compatible like the write
 * itself: nothing runs until it is awaited, and in `$transaction([...])` the plain query joins the batch.
 */
export class FluentWrite extends WrappedWrite<FluentWrite> {
  constructor(
    /** The write the relation is read from (its model, operation and arguments). */
    readonly $write: LazyQuery,
    query: PrismaPromiseLike,
    run: (fluent: FluentWrite) => Promise<unknown>,
    onBatch?: OnBatch<FluentWrite>,
  ) {
    super(query, run, onBatch);
  }
}

/**
 * A FluentWrite that also answers the related model's fluent relations, as Prisma's own does
 * (`post.update(…).author().profile()`): each call wraps the next plain fluent query around the same write.
 */
export function chainableFluentWrite(write: LazyQuery, query: PrismaPromiseLike, run: (fluent: FluentWrite) => Promise<unknown>, onBatch?: OnBatch<FluentWrite>): FluentWrite {
  return new Proxy(new FluentWrite(write, query, run, onBatch), {
    get(target, property) {
      // The wrapper's members are `$`-named or Prisma's own (then, catch, finally, requestTransaction): any other name is a relation.
      if (property in target || typeof property === "symbol") {
        // Bound to the instance itself: its private fields are not reachable through the proxy.
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      const next = query[property];
      if (typeof next !== "function") return undefined;
      return (args?: unknown) => chainableFluentWrite(write, (next as (args: unknown) => PrismaPromiseLike).call(query, args), run, onBatch);
    },
  });
}
