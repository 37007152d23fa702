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
