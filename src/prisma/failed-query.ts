import type { PrismaPromiseLike, QueryRunner } from "./lazy-query.js";
import { PrismaLikePromise, type BatchTransaction } from "./prisma-like-promise.js";

/**
 * A query refused before it ran (an invalid `cache` argument): lazy like Prisma's own, so the
 * error reaches `.catch()` and `await`, never the call site, and an unawaited one stays silent.
 */
export class FailedQuery extends PrismaLikePromise {
  readonly #error: unknown;

  constructor(error: unknown) {
    super();
    this.#error = error;
  }

  requestTransaction(_batch: BatchTransaction): PromiseLike<unknown> {
    return this.$execute();
  }

  protected $execute(): Promise<unknown> {
    return Promise.reject(this.#error);
  }
}

/**
 * The runner of a query refused before it ran: awaiting it, joining a batch transaction or
 * calling a fluent relation on it (`findUnique(bad).posts()`) all reject with the error, lazily.
 */
export function failingRunner(error: unknown): QueryRunner {
  return {
    run: () => Promise.reject(error),
    passthrough: () => new FailedQuery(error) as unknown as PrismaPromiseLike,
    fluent: () => new FailedQuery(error),
  };
}
