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
  if (name === "PrismaClientKnownRequestError" && typeof code === "string" && code.startsWith("P2")) return "refused";
  return "unknown";
}
