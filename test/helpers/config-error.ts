import { expect } from "vitest";
import { CacheConfigError } from "../../src/errors.ts";

/** The CacheConfigError `create` throws (checked to be one); fails the test when it throws nothing. */
export function configErrorOf(create: () => unknown): CacheConfigError {
  try {
    create();
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigError);
    return error as CacheConfigError;
  }
  throw new Error("expected a CacheConfigError");
}
