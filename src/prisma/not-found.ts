import { PrismaClientKnownRequestError } from "@prisma/client/runtime/client";
import { NotFoundMarker } from "../codec/not-found.js";

/** Prisma's code for "a record required by the query was not found". */
const NOT_FOUND = "P2025";

/** Operations that throw instead of returning null. */
export const THROWING_READS = new Set(["findUniqueOrThrow", "findFirstOrThrow"]);

/**
 * Turns Prisma's not-found error into a cacheable marker; any other error is rethrown, never cached.
 * The marker answers later calls that Prisma would have sent alone: it says what Prisma says to a
 * lone call (`meta.operation`, the message's last sentence), not what it said to a load it batched
 * with other `findUnique` calls of the same tick (neither), as an outside probe found it replayed.
 */
export function toNotFoundMarker(model: string, operation: string, error: unknown): NotFoundMarker {
  if (error instanceof PrismaClientKnownRequestError && error.code === NOT_FOUND) {
    return new NotFoundMarker(error.meta !== undefined && !("operation" in error.meta) ? notFoundDetail(model, operation) : { message: error.message, code: error.code, meta: error.meta });
  }
  throw error;
}

/** The error Prisma itself throws for a missing record, rebuilt from a cached marker or for a Bloom rejection. */
export function notFoundError(detail: NotFoundMarker["detail"], clientVersion: string): PrismaClientKnownRequestError {
  return new PrismaClientKnownRequestError(detail.message, { code: detail.code, clientVersion, meta: detail.meta });
}

/** The message Prisma writes for a missing record, for the Bloom guard (which never asked the database). */
export function notFoundDetail(model: string, operation: string): NotFoundMarker["detail"] {
  const delegate = model.charAt(0).toLowerCase() + model.slice(1);
  return {
    message: `\nInvalid \`prisma.${delegate}.${operation}()\` invocation:\n\n\nAn operation failed because it depends on one or more records that were required but not found. No record was found for a query.`,
    code: NOT_FOUND,
    meta: { modelName: model, operation: "a query" },
  };
}

/** Throws for a cached not-found marker; passes any other value through. */
export function unwrapNotFound(value: unknown, clientVersion: string): unknown {
  if (value instanceof NotFoundMarker) throw notFoundError(value.detail, clientVersion);
  return value;
}
