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
  // P1… are connection-level: the statement may have reached the server before the connection went.
  if (name !== "PrismaClientKnownRequestError" || typeof code !== "string" || !code.startsWith("P2")) return "unknown";
  return connectionLevel(error as { meta?: unknown }) ? "unknown" : "refused";
}

/** SQLSTATE classes of a connection or server failure, not of a statement refused: the commit may have happened first. */
const CONNECTION_LEVEL_STATE = /^(08|53|58|XX|57P)/;

/**
 * Prisma wraps a database error it has no code of its own for (`P2010`, `P2039`) with the
 * driver adapter's cause: a FATAL one (`57P01`, the backend terminated) ends the connection,
 * maybe after a commit whose reply it replaced; a statement refused (`23505`, `40001`, `57014`
 * cancelled by `statement_timeout`) rolled back.
 */
function connectionLevel(error: { meta?: unknown }): boolean {
  const cause = (error.meta as { driverAdapterError?: { cause?: Record<string, unknown> } } | undefined)?.driverAdapterError?.cause;
  if (cause === undefined) return false;
  if (cause.severity === "FATAL" || cause.severity === "PANIC") return true;
  if (cause.kind === "ConnectionClosed" || cause.kind === "SocketTimeout") return true;
  const state = cause.originalCode ?? cause.code;
  return typeof state === "string" && CONNECTION_LEVEL_STATE.test(state);
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
