/**
 * What a write that failed may have done to the database:
 * - `refused`: nothing. Prisma refused it before sending it (a validation error, no connection to
 *   be had), or the database refused it and its transaction rolled back (a constraint violated, a
 *   record not found, a write conflict: Prisma's `P2…` codes, `P2028` a transaction closed before its commit).
 * - `unknown`: it may have committed, or may still commit: a connection lost after the statement
 *   left (`Connection terminated unexpectedly`, `P1017`), a client-side timeout while the server
 *   still runs it, an error of unknown origin (another extension's hook, a driver adapter's).
 * - `committed`: the database answered it, and something after it failed (another extension's hook).
 */
export type FailedWriteOutcome = "refused" | "unknown" | "committed";

/** Classifies a failed write's error when nothing else is known of how far it got. */
export function outcomeOfError(error: unknown): FailedWriteOutcome {
  if (typeof error !== "object" || error === null) return "unknown";
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (name === "PrismaClientValidationError" || name === "PrismaClientInitializationError") return "refused";
  // Prisma passes some database errors on as the driver adapter raised them: a serialization
  // failure at an interactive transaction's COMMIT (write skew under Serializable) rolled it back.
  if (name === "DriverAdapterError") return refusedByDatabase((error as { cause?: unknown }).cause) ? "refused" : "unknown";
  // P1… are connection-level: the statement may have reached the server before the connection went.
  if (name !== "PrismaClientKnownRequestError" || typeof code !== "string" || !code.startsWith("P2")) return "unknown";
  const cause = (error as { meta?: { driverAdapterError?: { cause?: unknown } } }).meta?.driverAdapterError?.cause;
  return cause !== undefined && connectionLevel(cause) ? "unknown" : "refused";
}

/** SQLSTATE classes of a connection or server failure, not of a statement refused: the commit may have happened first. */
const CONNECTION_LEVEL_STATE = /^(08|53|58|XX|57P)/;

/**
 * Prisma wraps a database error it has no code of its own for (`P2010`, `P2039`) with the
 * driver adapter's cause: a FATAL one (`57P01`, the backend terminated) ends the connection,
 * maybe after a commit whose reply it replaced; a statement refused (`23505`, `40001`, `57014`
 * cancelled by `statement_timeout`) rolled back.
 */
function connectionLevel(cause: unknown): boolean {
  if (typeof cause !== "object" || cause === null) return true;
  const { severity, kind, originalCode, code } = cause as Record<string, unknown>;
  if (severity === "FATAL" || severity === "PANIC") return true;
  if (kind === "ConnectionClosed" || kind === "SocketTimeout") return true;
  const state = originalCode ?? code;
  return typeof state === "string" && CONNECTION_LEVEL_STATE.test(state);
}

/** Driver adapter error kinds of a statement the database refused (its transaction rolled back). */
const REFUSED_KINDS = new Set(["TransactionWriteConflict", "UniqueConstraintViolation", "NullConstraintViolation", "ForeignKeyConstraintViolation"]);
/** SQLSTATE classes of a statement refused: data (22), integrity (23: a deferred constraint fails at COMMIT), rollback (40: serialization failure, deadlock). */
const REFUSED_STATE = /^(22|23|40)/;

/**
 * A driver adapter's error that reached us bare (not wrapped in a Prisma error): refused only
 * when it positively says the database refused it; anything else may have committed.
 */
function refusedByDatabase(cause: unknown): boolean {
  if (connectionLevel(cause)) return false;
  const { kind, originalCode, code } = cause as Record<string, unknown>;
  if (typeof kind === "string" && REFUSED_KINDS.has(kind)) return true;
  const state = originalCode ?? code;
  return typeof state === "string" && REFUSED_STATE.test(state);
}

/**
 * The attempts at one write that reached the database through the final-arguments probe, while
 * other extensions' hooks run around it: a hook may retry it (a first attempt's reply lost, the
 * retry refused as a duplicate: the first may have committed), give up on one still running (a
 * timeout race), or fail after the database answered. The write's own error says none of that.
 */
export class WriteAttempts {
  #started = 0;
  #settled = 0;
  #answered = false;
  #unknown = false;

  started(): void {
    this.#started++;
  }

  answered(): void {
    this.#settled++;
    this.#answered = true;
  }

  failed(error: unknown): void {
    this.#settled++;
    if (outcomeOfError(error) !== "refused") this.#unknown = true;
  }

  /**
   * The write failed with `error`: committed if an attempt was answered; unknown if one failed
   * that way or is still running; refused if every attempt was refused. None reached the
   * database: the hooks' error decides — one of their own is unknown, since a hook may still run
   * the query after giving up on it (a concurrency limiter behind a timeout).
   */
  outcome(error: unknown): FailedWriteOutcome {
    if (this.uncertain) return "unknown";
    if (this.#answered) return "committed";
    return this.#started > 0 ? "refused" : outcomeOfError(error);
  }

  /**
   * An attempt failed with an unknown outcome, or is still running: it may have committed, or may
   * still, even when a later one was answered and the write resolved (a retried create may have made two rows).
   */
  get uncertain(): boolean {
    return this.#unknown || this.#settled < this.#started;
  }
}
