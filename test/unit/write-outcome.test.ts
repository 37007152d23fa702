import { describe, expect, it } from "vitest";
import { outcomeOfError } from "../../src/prisma/write-outcome.ts";

const named = (name: string, code?: string) => Object.assign(new Error("x"), { name, ...(code === undefined ? {} : { code }) });

describe("what a failed write may have done", () => {
  it("refused: Prisma refused it before sending it, or the database refused it (its transaction rolled back)", () => {
    expect(outcomeOfError(named("PrismaClientValidationError"))).toBe("refused");
    expect(outcomeOfError(named("PrismaClientInitializationError"))).toBe("refused");
    for (const code of ["P2002", "P2003", "P2025", "P2034", "P2024", "P2028", "P2010"]) expect(outcomeOfError(named("PrismaClientKnownRequestError", code)), code).toBe("refused");
  });

  it("unknown: a connection lost, a client-side timeout, an error of unknown origin", () => {
    expect(outcomeOfError(new Error("Connection terminated unexpectedly"))).toBe("unknown");
    expect(outcomeOfError(new Error("Query read timeout"))).toBe("unknown");
    expect(outcomeOfError(named("PrismaClientKnownRequestError", "P1017"))).toBe("unknown");
    expect(outcomeOfError(named("PrismaClientUnknownRequestError"))).toBe("unknown");
    expect(outcomeOfError(named("PrismaClientKnownRequestError"))).toBe("unknown");
    expect(outcomeOfError("a string")).toBe("unknown");
    expect(outcomeOfError(undefined)).toBe("unknown");
  });

  it("a database error Prisma wraps (P2010, P2039) is read from the driver adapter's cause: a terminated connection is unknown, a cancelled statement refused", () => {
    const wrapped = (code: string, cause: Record<string, unknown>) => Object.assign(named("PrismaClientKnownRequestError", code), { meta: { driverAdapterError: { name: "DriverAdapterError", cause } } });
    expect(outcomeOfError(wrapped("P2039", { originalCode: "57P01", kind: "postgres", severity: "FATAL" }))).toBe("unknown");
    expect(outcomeOfError(wrapped("P2010", { originalCode: "08006", kind: "postgres", severity: "ERROR" }))).toBe("unknown");
    expect(outcomeOfError(wrapped("P2039", { kind: "ConnectionClosed" }))).toBe("unknown");
    expect(outcomeOfError(wrapped("P2039", { originalCode: "57014", kind: "postgres", severity: "ERROR" }))).toBe("refused");
    expect(outcomeOfError(wrapped("P2034", { originalCode: "40001", kind: "TransactionWriteConflict" }))).toBe("refused");
    expect(outcomeOfError(wrapped("P2002", { originalCode: "23505", kind: "UniqueConstraintViolation" }))).toBe("refused");
  });

  it("a driver adapter's error Prisma passes on bare (a serialization failure at COMMIT, found by an outside probe) is refused only when its cause says the database refused it", () => {
    const bare = (cause: unknown) => Object.assign(named("DriverAdapterError"), { cause });
    expect(outcomeOfError(bare({ kind: "TransactionWriteConflict", originalCode: "40001" }))).toBe("refused");
    expect(outcomeOfError(bare({ kind: "postgres", originalCode: "40P01", severity: "ERROR" }))).toBe("refused");
    expect(outcomeOfError(bare({ kind: "postgres", originalCode: "23503", severity: "ERROR" }))).toBe("refused");
    expect(outcomeOfError(bare({ kind: "UniqueConstraintViolation" }))).toBe("refused");
    expect(outcomeOfError(bare({ kind: "postgres", originalCode: "57P01", severity: "FATAL" }))).toBe("unknown");
    expect(outcomeOfError(bare({ kind: "ConnectionClosed" }))).toBe("unknown");
    expect(outcomeOfError(bare({ kind: "postgres", originalCode: "08006", severity: "ERROR" }))).toBe("unknown");
    expect(outcomeOfError(bare({ kind: "GenericJs", id: 1 }))).toBe("unknown");
    expect(outcomeOfError(bare(undefined))).toBe("unknown");
  });
});
