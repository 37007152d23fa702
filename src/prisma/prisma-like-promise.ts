import { inspect } from "node:util";
import type { PrismaPromiseLike } from "./lazy-query.js";

/** What Prisma hands a promise that joins a batch `$transaction([...])`. */
export type BatchTransaction = unknown;

/**
 * The shape Prisma expects of its own promises: lazy (nothing runs until awaited, and it runs
 * once), tagged "PrismaPromise" (so `$transaction([...])` accepts it), and able to join a batch
 * transaction through `requestTransaction`.
 */
export abstract class PrismaLikePromise implements PromiseLike<unknown> {
  #promise: Promise<unknown> | undefined;

  get [Symbol.toStringTag](): string {
    return "PrismaPromise";
  }

  /**
   * This promise itself, also when read through a Proxy around it (a chainable fluent write): what
   * batches know it by. `$`-named, as every member of the cache's queries: a relation named `self`
   * keeps its fluent method.
   */
  get $self(): object {
    return this;
  }

  /**
   * What `JSON.stringify` and `console.log` show: a summary, never the client the query runs on
   * (outside probe 215: JSON.stringify threw on that circular structure, and inspecting a query
   * printed the whole client).
   */
  toJSON(): object {
    return {};
  }

  [inspect.custom](): string {
    const shown = this.toJSON();
    try {
      return `PrismaPromise ${JSON.stringify(shown)}`;
    } catch {
      // Arguments JSON cannot write (a BigInt): console.log must not throw.
      return `PrismaPromise ${inspect(shown)}`;
    }
  }

  then<A = unknown, B = never>(onFulfilled?: ((value: unknown) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.#run().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<unknown> {
    return this.#run().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<unknown> {
    return this.#run().finally(onFinally);
  }

  /** Called by `$transaction([...])` instead of awaiting: the plain Prisma query joins the batch. */
  abstract requestTransaction(batch: BatchTransaction): PromiseLike<unknown>;

  /** Runs the operation; called once, on the first await. */
  protected abstract $execute(): Promise<unknown>;

  #run(): Promise<unknown> {
    return (this.#promise ??= this.$execute());
  }
}

/** Settles a wrapped write's part of a batch `$transaction([...])`: `join` makes its plain query join the batch (or not: a refused write). */
export type OnBatch<Self> = (self: Self, join: () => PromiseLike<unknown>) => PromiseLike<unknown>;

/**
 * A write the cache runs when it is awaited (announced, run, invalidated), around a plain Prisma
 * query: that query is what joins a batch `$transaction([...])`, whose invalidation the batch does.
 */
export class WrappedWrite<Self> extends PrismaLikePromise {
  readonly #run: (self: Self) => Promise<unknown>;
  readonly #onBatch: OnBatch<Self> | undefined;

  constructor(
    /** The plain Prisma query (`$`-named, as every member: a relation named `query` keeps its fluent method). */
    readonly $query: PrismaPromiseLike,
    run: (self: Self) => Promise<unknown>,
    /** How its part of a batch is settled: a batch the cache does not run needs the write's invalidation. */
    onBatch?: OnBatch<Self>,
  ) {
    super();
    this.#run = run;
    this.#onBatch = onBatch;
  }

  requestTransaction(batch: BatchTransaction): PromiseLike<unknown> {
    const join = () => this.$query.requestTransaction?.(batch) ?? this.$query;
    return this.#onBatch === undefined ? join() : this.#onBatch(this as unknown as Self, join);
  }

  protected $execute(): Promise<unknown> {
    return this.#run(this as unknown as Self);
  }
}
