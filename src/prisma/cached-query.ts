/** What Prisma hands a promise that joins a batch `$transaction([...])`. */
export type BatchTransaction = unknown;

/** The Prisma promise a query would have been without the cache. */
export interface PrismaPromiseLike extends PromiseLike<unknown> {
  requestTransaction?(batch: BatchTransaction): PromiseLike<unknown>;
  [fluentRelation: string]: unknown;
}

/** Runs a cached read when it is awaited, or hands out the plain Prisma promise. */
export interface QueryRunner {
  run(query: CachedQuery): Promise<unknown>;
  passthrough(query: CachedQuery): PrismaPromiseLike;
}

/**
 * A lazy, Prisma-compatible promise for a cached read. Like Prisma's own, nothing happens until
 * it is awaited, so a query built before a write and awaited after it reads after the write.
 * Inside `$transaction([...])` it hands Prisma the uncached query, and the fluent API
 * (`findUnique(...).posts()`) is served by the uncached query too.
 */
export class CachedQuery implements PromiseLike<unknown> {
  #promise: Promise<unknown> | undefined;

  constructor(
    readonly runner: QueryRunner,
    /** The client the query runs on: the extension's parent client. */
    readonly parent: Record<string, Record<string, (args: unknown) => PrismaPromiseLike>>,
    readonly model: string,
    readonly operation: string,
    /** Arguments with the `cache` option removed. */
    readonly args: Record<string, unknown> | undefined,
    /** The per-query `cache` option, already validated. */
    readonly cacheOption: { ttl?: number; swr?: number } | undefined,
  ) {}

  get [Symbol.toStringTag](): string {
    // Prisma's $transaction([...]) accepts only elements that carry this tag.
    return "PrismaPromise";
  }

  then<A = unknown, B = never>(onFulfilled?: ((value: unknown) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.#run().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<unknown> {
    return this.#run().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<unknown> {
    return this.#run().finally(onFinally);
  }

  /** Called by `$transaction([...])`: reads in a transaction neither use nor fill the cache. */
  requestTransaction(batch: BatchTransaction): PromiseLike<unknown> {
    const query = this.runner.passthrough(this);
    return query.requestTransaction?.(batch) ?? query;
  }

  #run(): Promise<unknown> {
    return (this.#promise ??= this.runner.run(this));
  }
}

/**
 * A CachedQuery class whose instances also answer the fluent relation methods of one model,
 * each delegating to the uncached Prisma query. Built once per model.
 */
export function withFluentRelations(relationFields: readonly string[]): typeof CachedQuery {
  class FluentCachedQuery extends CachedQuery {}
  for (const field of relationFields) {
    Object.defineProperty(FluentCachedQuery.prototype, field, {
      value(this: CachedQuery, args?: unknown) {
        const query = this.runner.passthrough(this);
        return (query[field] as (args?: unknown) => unknown).call(query, args);
      },
    });
  }
  return FluentCachedQuery;
}
