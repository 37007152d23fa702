/** Base class of every error this library throws; `code` is stable across versions. */
export class CacheError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A value as an error message shows what it got: its type visible, so a value that looks valid
 * printed bare (`ttl: 60n`, `"5000"` for a number) does not read as one (outside probe 267).
 */
export function shownValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
    case "bigint":
      return `${value}n (a bigint)`;
    case "function":
      return "a function";
    case "symbol":
      return `a symbol (${value.description ?? ""})`;
    case "undefined":
      return "undefined";
    case "object":
      return value === null ? "null" : Array.isArray(value) ? "an array" : "an object";
    default:
      return String(value);
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
    super("E_STORE", `Redis ${operation} failed: ${withClusterRefreshHint(message)}`, options);
    this.operation = operation;
  }
}

/**
 * ioredis's Cluster client names no setting when no node answered its `CLUSTER SLOTS` in time: say
 * which one (outside probe 164: writers on 300–600 ms links never became ready, and not one write's
 * invalidation reached the fleet, with nothing but this message to go on).
 */
function withClusterRefreshHint(message: string): string {
  if (!message.includes("Failed to refresh slots cache")) return message;
  return `${message} (no Cluster node answered CLUSTER SLOTS within the client's slotsRefreshTimeout, 1 s by default: on links slower than that the Cluster client never becomes ready and no invalidation is delivered; raise slotsRefreshTimeout above the worst round trip)`;
}

/**
 * The Redis server's settings or role weaken a guarantee: an eviction policy that may evict what
 * the cache relies on, a replica, a server that hides its `run_id`. Reported once to `onError`,
 * never thrown (the operator may have chosen them); `setting` names what to change.
 */
export class RedisSettingsError extends CacheError {
  readonly setting: string;

  constructor(setting: string, message: string) {
    super("E_REDIS_SETTINGS", `Redis ${setting}: ${message}`);
    this.setting = setting;
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

/**
 * A write refused before it touched the database because Redis could not take its announcement
 * and `onRedisDownWrites` is `"refuse"`. Nothing was written; retry once Redis is back.
 */
export class CacheUnavailableError extends CacheError {
  readonly model: string;

  constructor(model: string, options?: { cause?: unknown }) {
    super("E_REDIS_UNAVAILABLE", `write to ${model} refused: its invalidation cannot be announced to Redis (onRedisDownWrites: "refuse"); nothing was written`, options);
    this.model = model;
  }
}

/**
 * A write, an invalidation or a method that needs the fleet, called on a client whose cache was
 * closed (`$cache.close()`): the cache can no longer invalidate other instances' copies, so a write
 * is refused before it touches the database (nothing was written). Reads still pass through.
 */
export class CacheClosedError extends CacheError {
  /** What was refused: `Model.operation`, `$transaction`, `$executeRaw`, or the `$cache` method. */
  readonly operation: string;

  constructor(operation: string) {
    const why = operation.startsWith("$cache.") || operation.startsWith("$accelerate.") ? "its connections to the fleet are closed" : "it can no longer invalidate what other instances cache; nothing was written (use a client whose cache is open)";
    super("E_CLOSED", `${operation} refused: this client's cache was closed ($cache.close()), so ${why}`);
    this.operation = operation;
  }
}

/** close() could not deliver every queued invalidation: `names` may be served stale elsewhere until their entries expire. */
export class UndeliveredInvalidationsError extends CacheError {
  /** Version names: `g:Model`/`r:Model` (a model), `t:Model:key=[…]` (a record), `u:tag` (a user tag). */
  readonly names: readonly string[];
  /** The models and the user tags these names belong to. */
  readonly models: readonly string[];
  readonly tags: readonly string[];

  /** `by`: close() (they are lost) or drain() (they stay queued, retried in the background). */
  constructor(names: readonly string[], by: "close()" | "drain()" = "close()") {
    const models = [...new Set(names.filter((name) => !name.startsWith("u:")).map((name) => name.split(":")[1] ?? name))];
    const tags = names.filter((name) => name.startsWith("u:")).map((name) => name.slice(2));
    const shown = names.slice(0, 20).join(", ");
    const fate = by === "drain()" ? "; they stay queued and are retried" : "";
    super("E_UNDELIVERED_INVALIDATIONS", `${by} could not deliver the invalidation of ${names.length} name(s)${fate} (models: ${models.join(", ") || "none"}; tags: ${tags.slice(0, 20).join(", ") || "none"}): ${shown}${names.length > 20 ? ", …" : ""}`);
    this.names = names;
    this.models = models;
    this.tags = tags;
  }
}

/**
 * `cacheExtension` applied to a client that already has it: the outer instance's `$cache` hides the
 * inner one, which nothing could close any more (its connections would keep the process alive).
 */
export class CacheExtendedTwiceError extends CacheError {
  constructor() {
    super("E_EXTENDED_TWICE", "this client is already extended with cacheExtension: a second one over it would hide the first one's $cache, which could then never be closed; extend the base client once (sibling clients, each extended from the base client, are separate caches)");
  }
}

/**
 * An error's message without the terminal colours Prisma's messages carry. Any thrown value
 * will do, one whose `message` or string form throws included (a null-prototype object: outside
 * probe 268, where building a report's message threw into the cache's work).
 */
export function plainMessage(error: unknown): string {
  let text: string;
  try {
    text = String((error as Error | null)?.message ?? error);
  } catch {
    text = "a thrown value that cannot be printed";
  }
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}
