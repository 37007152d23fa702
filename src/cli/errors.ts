import { CacheError } from "../errors.js";

/** Stable codes of the CLI's own failures; all of them exit with status 2. */
export type CliErrorCode =
  /** Bad command line: unknown command or option, missing --client, a malformed number. */
  | "E_USAGE"
  /** Nothing at the --client path (with or without a .js/.mjs/.cjs/.ts/.mts/.cts extension). */
  | "E_CLIENT_NOT_FOUND"
  /** The module exists but importing it failed (it threw, or it is TypeScript and no loader is active). */
  | "E_CLIENT_LOAD_FAILED"
  /** The module exports no client extended with cacheExtension(). */
  | "E_NOT_EXTENDED_CLIENT";

/** A CLI failure the user can fix: printed without a stack trace, with its code. */
export class CliError extends CacheError {
  declare readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
