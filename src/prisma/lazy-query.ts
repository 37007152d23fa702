import { snapshotArgs } from "./args-snapshot.js";
import type { PrismaSchema } from "./data-model.js";
import type { ServedBy } from "../core/served-by.js";
import { PrismaLikePromise, type BatchTransaction } from "./prisma-like-promise.js";

export type { BatchTransaction } from "./prisma-like-promise.js";

/** The Prisma promise a query would have been without the cache. */
export interface PrismaPromiseLike extends PromiseLike<unknown> {
  requestTransaction?(batch: BatchTransaction): PromiseLike<unknown>;
  [fluentRelation: string]: unknown;
}

export type Delegates = Record<string, Record<string, (args: unknown) => PrismaPromiseLike>>;

/** A plain Prisma query's part of a batch `$transaction([...])`. */
export function joinBatch(query: PrismaPromiseLike, batch: BatchTransaction): PromiseLike<unknown> {
  return query.requestTransaction?.(batch) ?? query;
}

/** Runs a query when it is awaited, or hands out the plain Prisma promise. */
export interface QueryRunner {
  run(query: LazyQuery): Promise<unknown>;
  /** The uncached Prisma query (used inside batch transactions). */
  passthrough(query: LazyQuery): PrismaPromiseLike;
  /** `query.<relation>(args)` of Prisma's fluent API. */
  fluent(query: LazyQuery, relation: string, args: unknown): unknown;
  /** Joins a batch `$transaction([...])` (default: the plain query joins it as it is). */
  joinBatch?(query: LazyQuery, batch: BatchTransaction): PromiseLike<unknown>;
  /** Its queries never use the cache (`cache: false`): nothing can say how they were served. */
  readonly uncached?: boolean;
}

/**
 * A lazy, Prisma-compatible promise for a model operation. Like Prisma's own, nothing happens
 * until it is awaited, so a read built before a write and awaited after it reads after the
 * write. Inside `$transaction([...])` it hands Prisma the plain query.
 */
export class LazyQuery extends PrismaLikePromise {
  /** Set before the first await by callers that want to know how the read was served. */
  $served: ServedBy | undefined = undefined;
  /** `args` is the cache's own copy (see $copyArgs). */
  $argsCopied = false;
  /** What the `scope` function answered for this read, asked once when it runs (see ReadPath). */
  $scope: string | undefined = undefined;

  constructor(
    readonly $runner: QueryRunner,
    /**
     * The client the query runs on: the extension's parent client. `$`-named like Prisma's own
     * members, because no field can be: a relation named `parent` keeps its fluent method.
     */
    readonly $parent: Delegates,
    readonly $model: string,
    readonly $operation: string,
    /** Arguments with the `cache` option removed; replaced by their copy once `$copyArgs()` ran. */
    public $args: Record<string, unknown> | undefined,
    /** The per-query `cache` option, already validated. */
    readonly $cacheOption: { ttl?: number; swr?: number; tags?: readonly string[] } | undefined,
  ) {
    super();
  }

  /**
   * Replaces the caller's arguments with a copy read once, as Prisma reads them (snapshotArgs), and
   * returns it: what the cache derives from the query and what runs then come from one reading.
   * Called when the query starts, which is when Prisma would read them.
   */
  $copyArgs(): Record<string, unknown> | undefined {
    if (!this.$argsCopied) {
      this.$args = snapshotArgs(this.$args);
      this.$argsCopied = true;
    }
    return this.$args;
  }

  /** The query, as Prisma's promise shows it (its model, operation and arguments). */
  override toJSON(): object {
    return { model: this.$model, operation: this.$operation, args: this.$args };
  }

  requestTransaction(batch: BatchTransaction): PromiseLike<unknown> {
    if (this.$runner.joinBatch !== undefined) return this.$runner.joinBatch(this, batch);
    return joinBatch(this.$runner.passthrough(this), batch);
  }

  protected $execute(): Promise<unknown> {
    return this.$runner.run(this);
  }
}

/** A LazyQuery class whose instances also answer one model's fluent relation methods. Built once per model. */
export function withFluentRelations(relationFields: readonly string[]): typeof LazyQuery {
  class FluentQuery extends LazyQuery {}
  // Each read of a relation method gives one bound to its query, as Prisma's are: taken off the
  // promise (`const posts = query.posts; posts()`) it still works (outside probe 213: it threw).
  for (const field of relationFields) {
    Object.defineProperty(FluentQuery.prototype, field, {
      get(this: LazyQuery) {
        return (args?: unknown) => this.$runner.fluent(this, field, args);
      },
    });
  }
  return FluentQuery;
}

/** Per model, its query class with fluent relations: one class per model, shared by reads and writes. */
export function fluentClassesOf(schema: PrismaSchema): Map<string, typeof LazyQuery> {
  const classes = new Map<string, typeof LazyQuery>();
  for (const model of schema.graph.modelNames) classes.set(model, withFluentRelations([...(schema.graph.model(model)?.relations.keys() ?? [])]));
  return classes;
}
