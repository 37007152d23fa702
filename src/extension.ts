import { Prisma } from "@prisma/client/extension";
import { Codec } from "./codec/codec.js";
import { TieredCache } from "./core/tiered-cache.js";
import { UnencodableArgsError } from "./errors.js";
import { canonicalize } from "./key/canonical.js";
import { deriveKey, type KeyScope } from "./key/derive-key.js";
import { schemaFingerprint } from "./key/fingerprint.js";
import { checkModelNames, resolveOptions, type ReadPolicy, type ResolvedOptions } from "./options.js";
import { CachedQuery, withFluentRelations, type PrismaPromiseLike, type QueryRunner } from "./prisma/cached-query.js";
import type { FluentRelations } from "./prisma/fluent-types.js";
import { describeDataModel, readDataModel, type DataModelFacts } from "./prisma/data-model.js";
import { encodePrismaArgValue, prismaDecimal } from "./prisma/prisma-values.js";
import { splitCacheOption } from "./prisma/query-args.js";
import { Counters } from "./stats/counters.js";
import { MemoryStore } from "./stores/memory-store.js";
import { RedisStore } from "./stores/redis-store.js";
import type { CacheExtensionOptions, CacheQueryOptions, CacheStats } from "./types.js";

/** Prisma marks the client of an interactive transaction with this symbol (an internal detail). */
const TRANSACTION_SCOPE = Symbol.for("prisma.client.transaction.scope_context");

/** Operations whose result may be null for "not found". */
const SINGLE_RECORD = new Set(["findUnique", "findFirst", "findUniqueOrThrow", "findFirstOrThrow"]);

type Delegates = Record<string, Record<string, (args: unknown) => PrismaPromiseLike>>;
type ExtensionThis = { $name: string; $parent: Delegates & { [TRANSACTION_SCOPE]?: unknown } };
type CacheArg = { cache?: CacheQueryOptions };

/** The `$cache` property of an extended client. */
export interface CacheControl {
  /** Counters since start: hits and misses overall, per tier and per model, and absorbed failures. */
  stats(): CacheStats;
  /** Stops caching (reads pass through) and releases what the extension opened; never the caller's Redis. */
  close(): Promise<void>;
}

/**
 * The Prisma Client extension: `prisma.$extends(cacheExtension({ models: { User: true } }))`.
 * Options are validated here; model names are checked when the extension meets the client.
 */
export function cacheExtension(options: CacheExtensionOptions) {
  const resolved = resolveOptions(options);
  return Prisma.defineExtension((client) => {
    const dataModel = readDataModel(client);
    const facts = describeDataModel(dataModel);
    checkModelNames(resolved.models, facts.modelNames);
    const runtime = new CacheRuntime(resolved, facts, { namespace: resolved.namespace, fingerprint: schemaFingerprint(dataModel) });
    const read = (operation: string) =>
      function (this: unknown, args?: Record<string, unknown>) {
        return runtime.query(this as ExtensionThis, operation, args);
      };
    return client.$extends({
      name: "prisma-cache-shield",
      model: {
        $allModels: {
          findUnique<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUnique"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findUnique">> & FluentRelations<T, "findUnique", null> {
            return read("findUnique").call(this, args as Record<string, unknown>) as never;
          },
          findUniqueOrThrow<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUniqueOrThrow"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findUniqueOrThrow">> & FluentRelations<T, "findUniqueOrThrow", null> {
            return read("findUniqueOrThrow").call(this, args as Record<string, unknown>) as never;
          },
          findFirst<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirst"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirst">> & FluentRelations<T, "findFirst", null> {
            return read("findFirst").call(this, args as Record<string, unknown>) as never;
          },
          findFirstOrThrow<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirstOrThrow"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirstOrThrow">> & FluentRelations<T, "findFirstOrThrow", null> {
            return read("findFirstOrThrow").call(this, args as Record<string, unknown>) as never;
          },
          findMany<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findMany"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findMany">> {
            return read("findMany").call(this, args as Record<string, unknown>) as never;
          },
          count<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "count"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "count">> {
            return read("count").call(this, args as Record<string, unknown>) as never;
          },
          aggregate<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "aggregate"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "aggregate">> {
            return read("aggregate").call(this, args as Record<string, unknown>) as never;
          },
          groupBy<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "groupBy"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "groupBy">> {
            return read("groupBy").call(this, args as Record<string, unknown>) as never;
          },
        },
      },
      client: { $cache: runtime.control },
    });
  });
}

/** Per-client state: the stores, the counters and the bridge between Prisma calls and the core. */
class CacheRuntime implements QueryRunner {
  readonly #options: ResolvedOptions;
  readonly #facts: DataModelFacts;
  readonly #scope: KeyScope;
  readonly #counters = new Counters();
  readonly #l1: MemoryStore | undefined;
  readonly #cache: TieredCache;
  readonly #queryClasses = new Map<string, typeof CachedQuery>();
  #closed = false;

  constructor(options: ResolvedOptions, facts: DataModelFacts, scope: KeyScope) {
    this.#options = options;
    this.#facts = facts;
    this.#scope = scope;
    this.#l1 = options.l1 === undefined ? undefined : new MemoryStore(options.l1, options.clock);
    this.#cache = new TieredCache({
      l1: this.#l1,
      l2: options.redis === undefined ? undefined : new RedisStore(options.redis, options.redisTimeoutMs),
      codec: new Codec(prismaDecimal),
      clock: options.clock,
      random: options.random,
      counters: this.#counters,
      onError: options.onError,
    });
    for (const model of options.models.keys()) {
      this.#queryClasses.set(model, withFluentRelations(facts.relationFields.get(model) ?? []));
    }
  }

  readonly control: CacheControl = {
    stats: () => ({ ...this.#counters.snapshot(), l1Entries: this.#l1?.size ?? 0, l1Bytes: this.#l1?.bytes ?? 0 }),
    close: async () => {
      this.#closed = true;
      this.#l1?.clear();
    },
  };

  /** Called for every read operation on every model: keep it allocation-light. */
  query(context: ExtensionThis, operation: string, rawArgs: Record<string, unknown> | undefined): unknown {
    const model = context.$name;
    const parent = context.$parent;
    const { args, cache } = splitCacheOption(rawArgs);
    const policy = this.#options.models.get(model);
    if (policy === undefined || this.#closed) return this.#delegate(parent, model)[operation]!(args);
    if (cache === false || parent[TRANSACTION_SCOPE] !== undefined) {
      this.#counters.bypass(cache === false ? "cache: false" : "transaction");
      return this.#delegate(parent, model)[operation]!(args);
    }
    const QueryClass = SINGLE_RECORD.has(operation) ? this.#queryClasses.get(model)! : CachedQuery;
    return new QueryClass(this, parent, model, operation, args, cache);
  }

  run(query: CachedQuery): Promise<unknown> {
    const policy = this.#policyFor(query);
    let canonicalArgs: string;
    try {
      canonicalArgs = canonicalize(query.args ?? {}, encodePrismaArgValue);
    } catch (error) {
      if (!(error instanceof UnencodableArgsError)) throw error;
      this.#counters.bypass(`unencodable args: ${error.reason}`);
      return Promise.resolve(this.passthrough(query));
    }
    const key = deriveKey(this.#scope, query.model, query.operation, canonicalArgs);
    const hit = this.#cache.readL1(key, query.model, policy);
    if (hit !== undefined) return Promise.resolve(hit[0]);
    return this.#cache.readThrough({
      key,
      model: query.model,
      policy,
      load: () => Promise.resolve(this.passthrough(query)),
      isNotFound: SINGLE_RECORD.has(query.operation) ? isNull : never,
    });
  }

  passthrough(query: CachedQuery): PrismaPromiseLike {
    return this.#delegate(query.parent, query.model)[query.operation]!(query.args);
  }

  #policyFor(query: CachedQuery): ReadPolicy {
    const policy = this.#options.models.get(query.model)!;
    const override = query.cacheOption;
    if (override === undefined) return policy;
    return {
      ...policy,
      ttlMs: override.ttl === undefined ? policy.ttlMs : override.ttl * 1000,
      swrMs: override.swr === undefined ? policy.swrMs : override.swr * 1000,
    };
  }

  #delegate(parent: Delegates, model: string): Record<string, (args: unknown) => PrismaPromiseLike> {
    return parent[this.#facts.delegateKeys.get(model)!]!;
  }
}

const isNull = (value: unknown) => value === null;
const never = () => false;
