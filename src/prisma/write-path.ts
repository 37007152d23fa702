import type { CacheError } from "../errors.js";
import { recordGeneration } from "../invalidation/dependencies.js";
import type { Announcement } from "../invalidation/versions.js";
import type { WriteAnnouncer } from "../invalidation/write-announcer.js";
import { tracing } from "../stats/telemetry.js";
import type { PrismaSchema } from "./data-model.js";
import { passthrough, type ExtensionThis } from "./delegates.js";
import type { FinalArgsProbe } from "./final-args.js";
import { FluentWrite, chainableFluentWrite } from "./fluent-write.js";
import { LazyQuery, joinBatch, type PrismaPromiseLike, type QueryRunner } from "./lazy-query.js";
import { RawWrite, rawSqlMayWrite } from "./raw-write.js";
import { tracedQuery } from "./traced-query.js";
import { TRANSACTION_SCOPE, TransactionInvalidations, type ScopedClient, type TransactionFn } from "./transactions.js";
import type { WriteNames } from "./write-names.js";
import { WriteAttempts, outcomeOfError } from "./write-outcome.js";
import { WriteGate, WriteProgress } from "./write-gate.js";

/** What the write path uses of the client's parts; CacheRuntime builds and owns them. */
export interface WritePathParts {
  namespace: string;
  schema: PrismaSchema;
  announcer: WriteAnnouncer;
  writeNames: WriteNames;
  /** Runs writes through one last query hook, to see the arguments other extensions' hooks produced. */
  probe: FinalArgsProbe;
  /** Per model, the query class carrying its fluent relations (shared with the read path). */
  fluentClasses: ReadonlyMap<string, typeof LazyQuery>;
  /** Whether a transaction client is one of this cache's client (see OutsideTransactions). */
  carriesCache: (tx: object) => boolean;
  report: (error: CacheError) => void;
}

/**
 * Prisma writes to invalidations: every write (a model write, a raw statement, a `$transaction`)
 * announces what its arguments name, runs, and confirms what it changed before it resolves.
 */
export class WritePath {
  readonly #namespace: string;
  readonly #delegateKeys: ReadonlyMap<string, string>;
  readonly #announcer: WriteAnnouncer;
  readonly #transactions: TransactionInvalidations;
  readonly #writeNames: WriteNames;
  readonly #probe: FinalArgsProbe;
  readonly #fluentClasses: ReadonlyMap<string, typeof LazyQuery>;
  /** Refuses writes once close() began, and lets close() wait for those in flight. */
  readonly #gate = new WriteGate();
  /**
   * The raw statements this client made that may write, and those taken for reads (each with how
   * to make it a write): what `$cache.raw()` accepts. Another client's statement (the base
   * client's) runs without the cache, so naming its models would invalidate nothing.
   */
  readonly #rawStatements = new WeakSet<RawWrite>();
  readonly #rawReads = new WeakMap<object, () => RawWrite>();

  constructor(parts: WritePathParts) {
    this.#namespace = parts.namespace;
    this.#delegateKeys = parts.schema.delegateKeys;
    this.#announcer = parts.announcer;
    this.#transactions = new TransactionInvalidations(parts.announcer, (announced) => this.#writeNames.ofUnresolved(announced), this.#gate, {
      carriesCache: parts.carriesCache,
      everyName: () => this.#writeNames.ofModels(),
      report: parts.report,
    });
    this.#writeNames = parts.writeNames;
    this.#probe = parts.probe;
    this.#fluentClasses = parts.fluentClasses;
  }

  /** Every write goes through here: it runs, then invalidates what it changed before it resolves. */
  write(context: ExtensionThis, operation: string, args: Record<string, unknown> | undefined): unknown {
    return new (this.#fluentClasses.get(context.$name)!)(this.#writes, context.$parent, context.$name, operation, args, undefined);
  }

  /**
   * close(): refuses writes from now on (CacheClosedError, before they touch the database), then
   * waits up to `timeoutMs` for those in flight to invalidate what they changed. Resolves with how
   * many still run.
   */
  close(timeoutMs: number): Promise<number> {
    return this.#gate.close(timeoutMs);
  }

  /** What the writes still running would invalidate (see WriteGate.runningNames). */
  runningNames(): string[] {
    return this.#gate.runningNames();
  }

  /** `$transaction`: reads inside bypass the cache; invalidations apply when it commits, before it resolves. */
  transaction(client: ScopedClient, input: unknown, options: unknown, parentTransaction: TransactionFn): Promise<unknown> {
    if (typeof input === "function") {
      const progress = new WriteProgress(() => []);
      return this.#gate.track(this.#transactions.interactive(client, input as (tx: unknown) => unknown, options, parentTransaction, progress), progress.pending);
    }
    // Neither a callback nor an array: Prisma's own error, as without the cache.
    if (!Array.isArray(input)) return parentTransaction.call(client, input, options);
    const elements = input as PrismaPromiseLike[];
    const announcedOf = (element: unknown): Iterable<string> => {
      const write = element instanceof FluentWrite ? element.$write : element;
      if (write instanceof LazyQuery && write.$runner === this.#writes) return this.#writeNames.announcedByWrite(write.$model, write.$operation, write.$copyArgs());
      return element instanceof RawWrite ? this.#namesOfRaw(element) : [];
    };
    const effectsOf = (element: unknown, result: unknown): Iterable<string> => {
      if (element instanceof LazyQuery && element.$runner === this.#writes) return this.#ofWriteInTransaction(element.$model, element.$operation, element.$copyArgs(), result);
      // A fluent write's result is the related record: its own effects are known from its arguments only.
      if (element instanceof FluentWrite) return this.#writeNames.ofWrite(element.$write.$model, element.$write.$operation, element.$write.$copyArgs(), undefined);
      return element instanceof RawWrite ? this.#namesOfRaw(element) : [];
    };
    const progress = new WriteProgress(() => elements.flatMap((element) => [...announcedOf(element)]));
    return this.#gate.track(this.#transactions.batch(client, elements, options, parentTransaction, effectsOf, announcedOf, progress), progress.pending);
  }

  /** `$executeRaw` and friends: a raw write invalidates every model unless `$cache.raw()` names them. */
  raw(client: ScopedClient, args: unknown[], parentMethod: (...args: unknown[]) => PrismaPromiseLike, isQuery: boolean): unknown {
    const query = parentMethod.apply(client, args);
    if (isQuery && !rawSqlMayWrite(args)) {
      // Taken for a read; `$cache.raw()` naming models turns it into a write (a function that writes unseen).
      if (typeof query === "object" && query !== null) this.#rawReads.set(query, () => this.#rawWrite(query, client, args));
      return query;
    }
    return this.#rawWrite(query, client, args);
  }

  #rawWrite(query: PrismaPromiseLike, client: ScopedClient, args: unknown[]): RawWrite {
    const write = new RawWrite(
      query,
      client,
      args,
      (write) => {
        const progress = new WriteProgress(() => this.#namesOfRaw(write));
        return this.#gate.admit("raw statement", () => this.#announced(client, this.#namesOfRaw(write), "raw statement", write.$query, () => [], undefined, undefined, false, progress), () => this.#transactions.drains(client), progress.pending);
      },
      (write, join) => {
        const names = () => this.#namesOfRaw(write);
        return this.#joinedBatch("raw statement", write, join, names, names);
      },
    );
    this.#rawStatements.add(write);
    return write;
  }

  /**
   * `$cache.raw(models, query)`: a write invalidates `models` (and what the database changes in
   * turn) instead of every model; a query taken for a read becomes such a write when `models` names
   * any (outside probe 286: a function that writes but looks read-only, named, was run as a read).
   * Undefined when `query` is no raw statement of this client.
   */
  nameRawStatement(query: unknown, models: readonly string[]): unknown {
    if (query instanceof RawWrite && this.#rawStatements.has(query)) {
      // Named twice (a helper wrapping a statement another already named): both names hold.
      query.models = query.models === undefined ? models : [...new Set([...query.models, ...models])];
      return query;
    }
    const asWrite = typeof query === "object" && query !== null ? this.#rawReads.get(query) : undefined;
    if (asWrite === undefined) return undefined;
    if (models.length === 0) return query;
    const write = asWrite();
    write.models = models;
    return write;
  }

  /** What a raw statement invalidates: every model, or those `$cache.raw()` named and what the database changes in turn. */
  #namesOfRaw(write: RawWrite): string[] {
    // The statement's text is read only for named models: unnamed, it invalidates everything anyway.
    return this.#writeNames.ofChangedModels(write.models, write.models !== undefined && write.truncates);
  }

  readonly #writes: QueryRunner = {
    run: (query) => {
      const progress = new WriteProgress(() => this.#writeNames.ofWrite(query.$model, query.$operation, query.$copyArgs(), undefined));
      return this.#gate.admit(`${query.$model}.${query.$operation}`, () => {
        const announced = this.#writeNames.announcedByWrite(query.$model, query.$operation, query.$copyArgs());
        if (!tracing.write.hasSubscribers) return this.#runWrite(query, announced, progress);
        return tracedQuery(tracing.write, this.#namespace, query, () => this.#runWrite(query, announced, progress));
      }, () => this.#transactions.drains(query.$parent as ScopedClient), progress.pending);
    },
    passthrough: (query) => passthrough(this.#delegateKeys, query),
    joinBatch: (query, batch) => {
      query.$copyArgs();
      return this.#joinedBatch(
        `${query.$model}.${query.$operation}`,
        query,
        () => {
          const plain = passthrough(this.#delegateKeys, query);
          this.#transactions.sameBatch(query, plain);
          return joinBatch(plain, batch);
        },
        (result) => this.#ofWriteInTransaction(query.$model, query.$operation, query.$args, result),
        () => this.#writeNames.announcedByWrite(query.$model, query.$operation, query.$args),
      );
    },
    fluent: (query, relation, args) => {
      // Prisma reads the caller's arguments when the query runs, not now: the effects copy them then ($copyArgs), the plain query reads them itself.
      const plain = passthrough(this.#delegateKeys, query);
      const related = (plain[relation] as (args: unknown) => PrismaPromiseLike).call(plain, args);
      // The fluent call returns the relation, not the record: invalidate as if the record were unknown.
      const effects = () => this.#writeNames.ofWrite(query.$model, query.$operation, query.$copyArgs(), undefined);
      return chainableFluentWrite(
        query,
        related,
        (fluent) => {
          const progress = new WriteProgress(effects);
          return this.#gate.admit(`${query.$model}.${query.$operation}`, () => this.#announced(query.$parent, this.#writeNames.announcedByWrite(query.$model, query.$operation, query.$copyArgs()), query.$model, fluent.$query, effects, undefined, undefined, this.#probe.hooked(this.#delegateKeys.get(query.$model)!, query.$operation), progress), () => this.#transactions.drains(query.$parent as ScopedClient), progress.pending);
        },
        (fluent, join) => this.#joinedBatch(`${query.$model}.${query.$operation}`, fluent, join, effects, () => this.#writeNames.announcedByWrite(query.$model, query.$operation, query.$copyArgs())),
      );
    },
  };

  /**
   * A write's part of a batch `$transaction([...])` (see TransactionInvalidations.joinedBatch), kept
   * until it settles. Once close() began it does not join: a batch this cache runs was refused as a
   * whole already; in a batch another client runs (`base.$transaction([cached.user.update(…)])`)
   * this element is refused, and Prisma rejects the batch as a whole (nothing of it is committed).
   */
  #joinedBatch(operation: string, element: object, join: () => PromiseLike<unknown>, effects: (result: unknown) => Iterable<string>, announced: () => Iterable<string>): PromiseLike<unknown> {
    if (this.#gate.closed) return this.#gate.admit(operation, () => Promise.resolve());
    const joined = this.#transactions.joinedBatch(element, join(), effects, announced);
    // A batch this cache runs is kept as a whole (see transaction); another client's batch, per element.
    return this.#transactions.runsBatchOf(element) ? joined : this.#gate.track(joined, announced);
  }

  #runWrite(query: LazyQuery, announced: Iterable<string>, progress: WriteProgress): Promise<unknown> {
    let finalArgs = query.$args;
    // Named from what the database returned, at once: other extensions' hooks may rewrite it, in place too, before it reaches us (a masked email).
    const namesOfDatabaseResult = new Set<string>();
    // Outside transactions the write runs through the final-arguments probe: a nested write another extension adds is seen.
    const inTransaction = (query.$parent as ScopedClient)[TRANSACTION_SCOPE] !== undefined;
    const delegateKey = this.#delegateKeys.get(query.$model)!;
    // How far a failed write got, where the probe sees it (other hooks run around it, and may retry it or give up on it).
    // Another extension's hook runs around it: it may write on a client of its own (see TransactionInvalidations.interactive).
    const hooked = this.#probe.hooked(delegateKey, query.$operation);
    const attempts = hooked && !inTransaction ? new WriteAttempts() : undefined;
    // Lazy, like a Prisma query: it starts when #announced awaits it, after the announcement.
    const write: PromiseLike<unknown> = inTransaction
      ? passthrough(this.#delegateKeys, query)
      : {
          then: (resolve, reject) =>
            this.#probe
              .run(delegateKey, query.$model, query.$operation, query.$args, {
                onFinalArgs: (args) => (finalArgs = args),
                onAttempt: () => attempts?.started(),
                onResult: (result) => {
                  attempts?.answered();
                  for (const name of this.#writeNames.ofWrite(query.$model, query.$operation, finalArgs, result)) namesOfDatabaseResult.add(name);
                },
                onAttemptFailed: (error) => attempts?.failed(error),
                // A hook wrote by itself (a soft delete's update on its own client): its result may not spell what it changed.
                onAnsweredElsewhere: () => void namesOfDatabaseResult.add(recordGeneration(query.$model)),
              })
              .then(resolve, reject),
        };
    const effects = (result: unknown) => {
      const names = inTransaction ? this.#ofWriteInTransaction(query.$model, query.$operation, query.$args, result) : this.#writeNames.ofWrite(query.$model, query.$operation, query.$args, result);
      if (finalArgs !== query.$args) for (const name of this.#writeNames.ofWrite(query.$model, query.$operation, finalArgs, result)) names.add(name);
      for (const name of namesOfDatabaseResult) names.add(name);
      return names;
    };
    // Asked before the write (the announcement) and after it, when another extension's hook may have changed its arguments.
    const addsIdentities = () => this.#writeNames.addsIdentities(query.$model, query.$operation, query.$args) || (finalArgs !== query.$args && this.#writeNames.addsIdentities(query.$model, query.$operation, finalArgs));
    return this.#announced(query.$parent, announced, query.$model, write, effects, addsIdentities, attempts, hooked, progress);
  }

  /**
   * A write's effects inside a transaction, where it runs without the probe: when other
   * extensions' hooks run around it, its result may not spell the identities it changed (a masked
   * email), so every unique read of the model is invalidated.
   */
  #ofWriteInTransaction(model: string, operation: string, args: Record<string, unknown> | undefined, result: unknown): Set<string> {
    const names = this.#writeNames.ofWrite(model, operation, args, result);
    if (this.#probe.hooked(this.#delegateKeys.get(model)!, operation)) names.add(recordGeneration(model));
    return names;
  }

  /**
   * One write outside a transaction: announce what its arguments name while it runs (awaiting the
   * lazy Prisma query starts it; see WriteAnnouncer.alongside), then confirm what it changed before resolving. Inside an
   * interactive transaction the announcement waits for the callback to return (see transactions.ts).
   */
  async #announced(
    client: ScopedClient,
    announced: Iterable<string>,
    what: string,
    write: PromiseLike<unknown>,
    effects: (result: unknown) => Iterable<string>,
    addsIdentities: () => boolean = () => true,
    attempts?: WriteAttempts,
    hooked = false,
    progress?: WriteProgress,
  ): Promise<unknown> {
    let announcement: Announcement | undefined;
    let result: unknown;
    if (this.#transactions.inTransaction(client)) {
      try {
        result = await write;
      } catch (error) {
        await this.#transactions.applyFailed(new Set(announced), client, () => effects(undefined), hooked);
        throw error;
      }
    } else {
      const outcome = await this.#announcer.alongside(announced, what, addsIdentities(), () => write);
      announcement = outcome.announcement;
      if ("error" in outcome) {
        await this.#transactions.settleFailed(attempts?.outcome(outcome.error) ?? outcomeOfError(outcome.error), new Set(announced), announcement, () => effects(undefined), addsIdentities());
        throw outcome.error;
      }
      result = outcome.result;
    }
    const names = new Set(effects(result));
    for (const name of announced) names.add(name);
    // Resolved, but an earlier attempt (retried by another extension's hook) may have committed too, or still may.
    if (attempts?.uncertain) await this.#transactions.settleFailed("unknown", new Set(announced), announcement, () => names);
    else await this.#transactions.apply(names, client, announcement, addsIdentities(), hooked, progress?.taken);
    return result;
  }
}
