import type { BatchTransaction, PrismaPromiseLike } from "./lazy-query.js";

/**
 * A raw statement that may write: awaited, it runs and then invalidates the models it touches
 * (all of them unless `$cache.raw()` named them). Prisma-compatible, like LazyQuery.
 */
export class RawWrite implements PromiseLike<unknown> {
  #promise: Promise<unknown> | undefined;
  /** Models named through `$cache.raw()`; undefined means every model. */
  models: readonly string[] | undefined;

  constructor(
    readonly query: PrismaPromiseLike,
    readonly client: object,
    readonly invalidate: (write: RawWrite) => Promise<void>,
  ) {}

  get [Symbol.toStringTag](): string {
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

  requestTransaction(batch: BatchTransaction): PromiseLike<unknown> {
    return this.query.requestTransaction?.(batch) ?? this.query;
  }

  #run(): Promise<unknown> {
    return (this.#promise ??= Promise.resolve(this.query).then(async (result) => {
      await this.invalidate(this);
      return result;
    }));
  }
}

const WRITE_SQL = /\b(insert|update|delete|merge|upsert|truncate|alter|drop|create|copy|call|do)\b/i;

/** Whether a raw query's SQL text could write; `$queryRaw` of a plain SELECT invalidates nothing. */
export function rawSqlMayWrite(args: readonly unknown[]): boolean {
  return WRITE_SQL.test(rawSqlText(args));
}

function rawSqlText(args: readonly unknown[]): string {
  const first = args[0] as { raw?: readonly string[]; strings?: readonly string[]; sql?: string } | string | undefined;
  if (typeof first === "string") return first;
  if (Array.isArray(first)) return first.join(" ");
  if (first?.strings !== undefined) return first.strings.join(" ");
  return first?.sql ?? "";
}
