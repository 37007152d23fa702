import { randomUUID } from "node:crypto";
import { Prisma } from "@prisma/client/extension";
import { CacheArgumentError, CacheClosedError, CacheConfigError, shownValue } from "./errors.js";
import { MAX_LIFETIME_S } from "./option-limits.js";
import { MODEL_LEVEL, TOP_LEVEL, isUncachedEntry, rejectUnknown } from "./options.js";
import { cacheExtension, type CacheControl } from "./extension.js";
import { AccelerateInfoQuery, type AccelerateInfo, type InfoResult } from "./prisma/accelerate-info.js";
import { modelThis } from "./prisma/delegates.js";
import { checkTags, strategyToCacheArgs, type AccelerateCacheStrategy } from "./prisma/accelerate-strategy.js";
import { readPrismaSchema } from "./prisma/data-model.js";
import type { FluentRelations } from "./prisma/fluent-types.js";
import { FailedQuery } from "./prisma/failed-query.js";
import type { Delegates, PrismaPromiseLike } from "./prisma/lazy-query.js";
import type { CacheExtensionOptions, Clock, ModelCacheOptions, UncachedModelOptions } from "./types.js";

export type { AccelerateInfo } from "./prisma/accelerate-info.js";
export type { AccelerateCacheStrategy } from "./prisma/accelerate-strategy.js";

/** Options of the Accelerate mode: those of `cacheExtension`, except lifetimes, which every query sets. */
export interface AccelerateCompatOptions<ModelName extends string = string> extends Omit<CacheExtensionOptions<ModelName>, "models" | "ttl" | "swr"> {
  /**
   * Models whose reads may be cached (those with a `cacheStrategy`): every model of the schema
   * unless set to `false` here; per-model `l1`, `jitter`, `negativeTtl` and `bloom` as in `cacheExtension`.
   */
  models?: { [Model in ModelName]?: boolean | Omit<ModelCacheOptions<ModelName>, "ttl" | "swr"> | UncachedModelOptions<ModelName> | undefined } | undefined;
  /** TTL jitter as a fraction, 0 to 1. @default 0 (Accelerate's lifetimes are exact) */
  jitter?: number;
  /** Seconds: the longest `cacheStrategy.ttl + swr` a query may ask for. @default 86400 (one day) */
  maxLifetime?: number;
}

/** A read's promise in the Accelerate mode: Prisma's, plus `withAccelerateInfo()`. */
export type AcceleratePromise<T> = Prisma.PrismaPromise<T> & {
  /** Runs the query and resolves with its data and how it was served (`info.cacheStatus`, `info.tier`). */
  withAccelerateInfo(): Prisma.PrismaPromise<InfoResult<T>>;
};

/** The `$accelerate` property of a client extended in the Accelerate mode. */
export interface AccelerateControl {
  /** Invalidates every entry carrying one of the tags (at most 5), on every instance, before it resolves. */
  invalidate(input: AccelerateInvalidateInput): Promise<{ requestId: string }>;
  /** Invalidates every cached read of this namespace, on every instance, before it resolves. */
  invalidateAll(): Promise<{ requestId: string }>;
}

/** The `cacheStrategy` argument, under the name `@prisma/extension-accelerate` exports it. */
export interface PrismaCacheStrategy {
  readonly cacheStrategy?: AccelerateCacheStrategy | undefined;
}

/** The argument of `$accelerate.invalidate()`, under the name `@prisma/extension-accelerate` exports it. */
export type AccelerateInvalidateInput = { tags: ReadonlyArray<string> };

type StrategyArg = PrismaCacheStrategy;
const READS = ["findUnique", "findUniqueOrThrow", "findFirst", "findFirstOrThrow", "findMany", "count", "aggregate", "groupBy"] as const;
const LIFETIME_OPTIONS = ["ttl", "swr"] as const;
const DEFAULT_MAX_LIFETIME = 86_400;

/**
 * Prisma Accelerate's caching API on your own Redis: replace `withAccelerate()` by
 * `accelerateCompat({ redis })` and `cacheStrategy`, `withAccelerateInfo()` and
 * `$accelerate.invalidate()` keep working. Unlike Accelerate, writes through the client still
 * invalidate what they change. `$cache` is there too.
 */
// NoInfer, as in cacheExtension: the names come from the client (`accelerateCompat<Prisma.ModelName>(…)`), never from `models`.
export function accelerateCompat<ModelName extends string = string>(options: AccelerateCompatOptions<NoInfer<ModelName>> = {}) {
  rejectLifetimes(options);
  const maxLifetime = compatMaxLifetime(options);
  rejectNegativeTtlsAbove(options, maxLifetime);
  return Prisma.defineExtension((client) => {
    const schema = readPrismaSchema(client);
    const models = allModels(schema.graph.modelNames, options.models, options.negativeTtl ?? maxLifetime);
    // The core bounds lifetimes with jitter included; queries are bounded here, without.
    const cached = client.$extends(cacheExtension({ ...options, models, jitter: options.jitter ?? 0, maxLifetime: maxLifetime * (1 + largestJitter(options)) }));
    const control = (cached as unknown as { $cache: CacheControl }).$cache;
    const negativeTtlOf = (model: string) => {
      const policy = models[model];
      return typeof policy === "object" && !isUncachedEntry(policy) ? ((policy as ModelCacheOptions).negativeTtl ?? maxLifetime) : maxLifetime;
    };
    // A model opted out is read uncached whatever its cacheStrategy, as Accelerate apps put one on every read.
    const optedOut = (model: string) => isUncachedEntry(models[model]);
    const read = compatRead(schema.delegateKeys, maxLifetime, options.clock ?? Date, negativeTtlOf, optedOut);
    const [findUnique, findUniqueOrThrow, findFirst, findFirstOrThrow, findMany, count, aggregate, groupBy] = READS.map(read);
    const accelerate = accelerateControl(control, schema.graph.modelNames);
    // Typed as one layer over the base client: stacked overrides of one method would be overloads.
    return (cached as unknown as typeof client).$extends({
      name: "prisma-cache-shield/accelerate",
      model: {
        $allModels: {
          findUnique<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUnique"> & StrategyArg>): AcceleratePromise<Prisma.Result<T, A, "findUnique">> & FluentRelations<T, "findUnique", null> {
            return findUnique!.call(this, args) as never;
          },
          findUniqueOrThrow<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUniqueOrThrow"> & StrategyArg>): AcceleratePromise<Prisma.Result<T, A, "findUniqueOrThrow">> & FluentRelations<T, "findUniqueOrThrow", never> {
            return findUniqueOrThrow!.call(this, args) as never;
          },
          findFirst<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirst"> & StrategyArg>): AcceleratePromise<Prisma.Result<T, A, "findFirst">> & FluentRelations<T, "findFirst", null> {
            return findFirst!.call(this, args) as never;
          },
          findFirstOrThrow<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirstOrThrow"> & StrategyArg>): AcceleratePromise<Prisma.Result<T, A, "findFirstOrThrow">> & FluentRelations<T, "findFirstOrThrow", never> {
            return findFirstOrThrow!.call(this, args) as never;
          },
          findMany<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findMany"> & StrategyArg>): AcceleratePromise<Prisma.Result<T, A, "findMany">> {
            return findMany!.call(this, args) as never;
          },
          count<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "count"> & StrategyArg>): AcceleratePromise<Prisma.Result<T, A, "count">> {
            return count!.call(this, args) as never;
          },
          aggregate<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "aggregate"> & StrategyArg>): AcceleratePromise<Prisma.Result<T, A, "aggregate">> {
            return aggregate!.call(this, args) as never;
          },
          groupBy<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "groupBy"> & StrategyArg>): AcceleratePromise<Prisma.Result<T, A, "groupBy">> {
            return groupBy!.call(this, args) as never;
          },
        },
      },
      client: { $accelerate: accelerate, $cache: control as CacheControl<ModelName> },
    });
  });
}

/**
 * Arguments this mode translated. Prisma runs the topmost definition of a model method on every
 * client above it, with `$parent` the client right below the one called: on a client extended
 * after this mode's (a model method, a computed field), that is this mode's client, whose read is
 * this method again — which refused the translated arguments' `cache` (outside probe 211: every
 * read of such a client failed). Translated ones are passed down until the cached client takes them.
 */
const TRANSLATED = new WeakSet<object>();

/**
 * A read in the Accelerate mode: `cacheStrategy` becomes the `cache` option of the cached client
 * below (the extension's parent), and the promise gains `withAccelerateInfo()`.
 */
function compatRead(delegateKeys: ReadonlyMap<string, string>, maxLifetime: number, clock: Clock, negativeTtlOf: (model: string) => number, optedOut: (model: string) => boolean) {
  return (operation: string) =>
    function (this: unknown, args?: unknown): PrismaPromiseLike {
      const { $name, $parent } = modelThis(this, operation) as { $name: string; $parent: Delegates };
      const delegate = $parent[delegateKeys.get($name)!]!;
      // Translated by this method on a client extended above this one: passed down as they are.
      if (typeof args === "object" && args !== null && TRANSLATED.has(args)) return delegate[operation]!(args);
      let strategy: ReturnType<typeof strategyToCacheArgs>;
      try {
        strategy = strategyToCacheArgs(args as Record<string, unknown> | undefined, maxLifetime);
      } catch (error) {
        // Like Prisma's own validation errors: a rejected query (with or without its info), never a throw at the call.
        const refused = new FailedQuery(error);
        return Object.assign(refused, { withAccelerateInfo: () => new FailedQuery(error) }) as unknown as PrismaPromiseLike;
      }
      const { args: translated, ttl } = optedOut($name) ? { args: { ...strategy.args, cache: false }, ttl: 0 } : strategy;
      TRANSLATED.add(translated);
      const start = () => delegate[operation]!(translated);
      // "Not found" is kept for the query's ttl, at most the model's negativeTtl.
      const withAccelerateInfo = () => new AccelerateInfoQuery(start, { ttlSeconds: ttl, notFoundSeconds: Math.min(ttl, negativeTtlOf($name)) }, clock);
      return Object.assign(start(), { withAccelerateInfo });
    };
}

/** `$accelerate`: Accelerate's invalidation calls, on this library's fleet-wide invalidation. */
function accelerateControl(control: CacheControl, modelNames: readonly string[]): AccelerateControl {
  return {
    invalidate: async (input) => {
      if (typeof input !== "object" || input === null || Array.isArray(input)) throw new CacheArgumentError("input", "expected { tags: string[] }");
      // A misspelt key would be ignored silently, as in $cache.invalidate().
      for (const key of Object.keys(input)) if (key !== "tags") throw new CacheArgumentError(key, "unknown key (expected tags)");
      const tags = checkTags((input as { tags?: unknown }).tags, "tags", 1);
      await named("$accelerate.invalidate()", control.invalidate({ tags }));
      return { requestId: randomUUID() };
    },
    invalidateAll: async () => {
      // Every entry depends on the generation of a model it reads: bumping them all drops everything.
      await named("$accelerate.invalidateAll()", control.invalidate({ models: modelNames }));
      return { requestId: randomUUID() };
    },
  };
}

/** A closed cache's refusal names the method the application called, not the `$cache` one behind it. */
async function named(operation: string, invalidating: Promise<void>): Promise<void> {
  try {
    await invalidating;
  } catch (error) {
    throw error instanceof CacheClosedError ? new CacheClosedError(operation) : error;
  }
}

/** Every model of the schema, cached on demand: lifetimes come from each query's cacheStrategy. */
function allModels(modelNames: readonly string[], given: AccelerateCompatOptions["models"], negativeTtl: number): CacheExtensionOptions["models"] {
  const models: CacheExtensionOptions["models"] = {};
  // negativeTtl defaults to the longest lifetime: each query then keeps "not found" for its own ttl.
  for (const name of modelNames) models[name] = { ttl: 1, negativeTtl };
  if (given !== undefined && (typeof given !== "object" || given === null || Array.isArray(given))) throw new CacheConfigError("models", "expected an object mapping model names to true, false or per-model options");
  for (const [name, value] of Object.entries(given ?? {})) {
    if (isUncachedEntry(value)) {
      models[name] = value as false | UncachedModelOptions;
      continue;
    }
    if (value !== true && (typeof value !== "object" || value === null || Array.isArray(value))) throw new CacheConfigError(`models.${name}`, "expected true, false or an object of per-model options");
    if (value !== true) rejectLifetimes(value, `models.${name}.`);
    // Unknown names are kept: the extension rejects them against the schema, naming the option.
    models[name] = { ttl: 1, negativeTtl, ...(value === true ? {} : (value as Omit<ModelCacheOptions, "ttl" | "swr">)) };
  }
  return models;
}

/**
 * `maxLifetime`, checked here, naming it: every model's `negativeTtl` defaults to it, and the core
 * receives it stretched by the largest jitter, so the core would name another option or a value
 * the caller never gave. With jitter, the longest is 365 days shrunk by it.
 */
function compatMaxLifetime(options: AccelerateCompatOptions): number {
  const value = options.maxLifetime ?? DEFAULT_MAX_LIFETIME;
  const jitter = largestJitter(options);
  const longest = Math.floor(MAX_LIFETIME_S / (1 + (Number.isFinite(jitter) ? jitter : 0)));
  // At least a second: a query's lifetimes are whole seconds (below it, the core refused it naming a model's lifetime the caller never set: outside probe 211).
  if (typeof value !== "number" || !Number.isFinite(value) || value < 1 || value > longest) {
    throw new CacheConfigError("maxLifetime", `expected a number of seconds from 1 (a cacheStrategy's lifetimes are whole seconds) to ${longest}${longest < MAX_LIFETIME_S ? ` (365 days shrunk by the jitter, ${jitter})` : ""}, got ${shownValue(value)}`);
  }
  return value;
}

/**
 * A `negativeTtl` above `maxLifetime` would be refused by the core naming `maxLifetime` and a
 * model the caller never configured (every model is cached on demand here): name the option set.
 */
function rejectNegativeTtlsAbove(options: AccelerateCompatOptions, maxLifetime: number): void {
  const bound = `maxLifetime, ${maxLifetime} s${options.maxLifetime === undefined ? " (the default)" : ""}`;
  const check = (value: unknown, option: string) => {
    if (typeof value === "number" && value > maxLifetime) throw new CacheConfigError(option, `${value} s is above ${bound}: raise maxLifetime or lower ${option}`);
  };
  check(options.negativeTtl, "negativeTtl");
  const models = typeof options.models === "object" && options.models !== null ? Object.entries(options.models) : [];
  for (const [name, policy] of models) if (typeof policy === "object" && policy !== null) check((policy as ModelCacheOptions).negativeTtl, `models.${name}.negativeTtl`);
}

function largestJitter(options: AccelerateCompatOptions): number {
  const jitters = Object.values(options.models ?? {}).map((model) => (typeof model === "object" && typeof (model as ModelCacheOptions).jitter === "number" ? (model as ModelCacheOptions).jitter! : 0));
  return Math.max(typeof options.jitter === "number" ? options.jitter : 0, ...jitters);
}

function withoutLifetimes(allowed: ReadonlySet<string>): ReadonlySet<string> {
  return new Set([...allowed].filter((key) => !(LIFETIME_OPTIONS as readonly string[]).includes(key)));
}

/** Lifetimes are per query in the Accelerate mode: a configured one would silently never apply. */
function rejectLifetimes(options: object, prefix = ""): void {
  if (typeof options !== "object" || options === null) return;
  for (const key of LIFETIME_OPTIONS) {
    if (key in options) throw new CacheConfigError(`${prefix}${key}`, "the Accelerate mode takes lifetimes per query, from `cacheStrategy: { ttl, swr }`");
  }
  // Checked here so that the error lists the options this mode takes, without the lifetimes.
  rejectUnknown(options, withoutLifetimes(prefix === "" ? TOP_LEVEL : MODEL_LEVEL), prefix);
}
