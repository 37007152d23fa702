/** Base class of every error this library throws; `code` is stable across versions. */
export class CacheError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Invalid configuration, thrown at construction. `option` is the dotted path of the option at fault. */
export class CacheConfigError extends CacheError {
  readonly option: string;

  constructor(option: string, message: string) {
    super("E_INVALID_OPTION", `Invalid option \`${option}\`: ${message}`);
    this.option = option;
  }
}

/** A per-query `cache` argument that cannot be honoured. `argument` names the field at fault. */
export class CacheArgumentError extends CacheError {
  readonly argument: string;

  constructor(argument: string, message: string) {
    super("E_INVALID_ARGUMENT", `Invalid argument \`${argument}\`: ${message}`);
    this.argument = argument;
  }
}

/** A Redis failure or timeout. Reads never throw it; it reaches `onError` and the stats. */
export class CacheStoreError extends CacheError {
  readonly operation: string;

  constructor(operation: string, message: string, options?: { cause?: unknown }) {
    super("E_STORE", `Redis ${operation} failed: ${message}`, options);
    this.operation = operation;
  }
}

/** Query arguments that have no canonical encoding (functions, cycles, symbols, unknown classes). */
export class UnencodableArgsError extends CacheError {
  readonly reason: string;

  constructor(reason: string, path: string) {
    super("E_UNENCODABLE_ARGS", `query arguments cannot be encoded (${reason} at ${path || "<root>"})`);
    this.reason = reason;
  }
}
