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
});
