import { AsyncLocalStorage } from "node:async_hooks";
import type { Delegates, PrismaPromiseLike } from "./lazy-query.js";
import { CACHED_READS } from "./stats-control.js";

/** Waits for the arguments one query runs with, once every other extension's query hooks rewrote them. */
interface Capture {
  model: string;
  operation: string;
  seen: boolean;
  listener: ProbeListener;
}

/**
 * What a probed query reports besides its result. A hook may run the query more than once (a
 * retry): `onFinalArgs` receives the first attempt's arguments; the attempt callbacks, each.
 */
export interface ProbeListener {
  /** The arguments the query runs with (its first attempt's), once every other extension's hooks rewrote them. */
  onFinalArgs?: (args: Record<string, unknown> | undefined) => void;
  /** An attempt is about to reach the database, with these arguments. */
  onAttempt?: (args: Record<string, unknown> | undefined) => void;
  /** An attempt's result as the database returned it, before other extensions' hooks rewrote it (a masked email). */
  onResult?: (result: unknown) => void;
  /** An attempt failed: the database's (or the connection's) error, before other hooks saw it. */
  onAttemptFailed?: (error: unknown) => void;
  /**
   * Another extension's hook answered without running the query (a read replica, a `findFirst`
   * on its own client, another cache): nothing says what the result depends on, or how old it is.
   */
  onAnsweredElsewhere?: () => void;
}

interface ExtendableClient {
  $extends(extension: unknown): unknown;
  $transaction(queries: PrismaPromiseLike[]): Promise<unknown[]>;
  /** Prisma's extension chain (internal): whose query hooks a model's operation runs through. */
  _extensions?: { getAllQueryCallbacks?(model: string, operation: string): readonly unknown[] };
}

/**
 * Runs queries on the client the cache extension was applied to, through one more query hook,
 * added after every other extension's: it runs last, so it sees the arguments that actually
 * reach the database (a soft-delete filter, a row-visibility condition added by another
 * extension). Only loads and writes use it, where a query hook's cost (tens of µs) is small
 * next to the database round trip; cache hits never do.
 */
export class FinalArgsProbe {
  readonly #captures = new AsyncLocalStorage<Capture>();
  readonly #client: Delegates;
  /** The same client, for its `$transaction`. */
  readonly #probed: ExtendableClient;
  /** The client the extension was applied to: a query no other extension hooks runs on it directly. */
  readonly #plain: ExtendableClient;
  /** Probed queries started and not yet settled. */
  #running = 0;
  readonly #hookCounts = new Map<string, number>();
  /**
   * Reads (`User.findUnique`) another extension's hook answered without running them, outside a
   * transaction: true, they run inside one from then on (see run); false once that did not help either.
   */
  readonly #inTransaction = new Map<string, boolean>();
  /** `@prisma/extension-read-replicas` is applied below the cache (its `$primary` and `$replica`): every read runs in a transaction. */
  readonly #replicasBelow: boolean;

  constructor(client: unknown) {
    const captures = this.#captures;
    const hook = ({ model, operation, args, query }: { model?: string; operation: string; args: unknown; query: (args: unknown) => unknown }) => {
      const capture = captures.getStore();
      // Only the query this capture started (a hook of another extension may issue queries of other models or operations).
      if (capture === undefined || capture.model !== model || capture.operation !== operation) return query(args);
      const { listener } = capture;
      const finalArgs = args as Record<string, unknown> | undefined;
      if (!capture.seen) {
        capture.seen = true;
        listener.onFinalArgs?.(finalArgs);
      }
      listener.onAttempt?.(finalArgs);
      if (listener.onResult === undefined && listener.onAttemptFailed === undefined) return query(args);
      return Promise.resolve(query(args)).then(
        (result) => {
          listener.onResult?.(result);
          return result;
        },
        (error: unknown) => {
          listener.onAttemptFailed?.(error);
          throw error;
        },
      );
    };
    this.#plain = client as ExtendableClient;
    this.#probed = (client as ExtendableClient).$extends({ name: "prisma-cache-shield:final-args", query: { $allModels: { $allOperations: hook } } }) as ExtendableClient;
    this.#client = this.#probed as unknown as Delegates;
    const methods = client as { $primary?: unknown; $replica?: unknown };
    this.#replicasBelow = typeof methods.$primary === "function" && typeof methods.$replica === "function";
  }

  /**
   * Runs `operation` on `model` with `args`; the listener's `onFinalArgs` receives the arguments
   * it runs with, before it reaches the database, and `onResult` what the database answered,
   * before other extensions' hooks rewrote it (with no other hook on the query, its result is what
   * the caller gets). When a hook answers the query itself, neither is called, and
   * `onAnsweredElsewhere` is, before the result is handed on. `alone`: in a one-query transaction,
   * which Prisma never merges with the other `findUnique` calls of its tick (see mergesAsAlone).
   */
  run(delegateKey: string, model: string, operation: string, args: Record<string, unknown> | undefined, listener: ProbeListener, alone = false): Promise<unknown> {
    // No other extension hooks this query: it runs with `args`, and needs neither the hook nor its
    // context. Prisma looks hooks up by the model's client property (`user`), as they are declared.
    if (this.#hookCount(delegateKey, operation) === 0) {
      const plain = (this.#plain as unknown as Delegates)[delegateKey] as Record<string, (args: unknown) => PrismaPromiseLike>;
      if (alone) return this.#plain.$transaction([plain[operation]!(args)]).then(([result]) => result);
      return new Promise((resolve, reject) => plain[operation]!(args).then(resolve, reject));
    }
    const delegate = this.#client[delegateKey] as Record<string, (args: unknown) => PrismaPromiseLike>;
    const key = `${delegateKey}.${operation}`;
    const inTransaction = alone || (CACHED_READS.has(operation) && (this.#inTransaction.get(key) ?? this.#replicasBelow));
    // Start the (lazy) Prisma query inside the capture's context, so the hook above finds it there.
    this.#running++;
    const capture: Capture = { model, operation, seen: false, listener };
    const ran = this.#captures.run(capture, () =>
      new Promise((resolve, reject) => {
        const query = delegate[operation]!(args);
        (inTransaction ? this.#probed.$transaction([query]).then(([result]) => result) : query).then((result) => {
          if (!capture.seen) {
            listener.onAnsweredElsewhere?.();
            // A read replica answers reads outside transactions only (`@prisma/extension-read-replicas`
            // sends those inside one to the primary): this read's next loads run in a one-query
            // transaction, where the hook above sees them reach the primary, so they can be stored.
            // Answered elsewhere inside the transaction too (its own memo): not worth the transaction's round trips.
            if (CACHED_READS.has(operation) && this.#inTransaction.get(key) !== false) this.#inTransaction.set(key, !inTransaction);
          }
          resolve(result);
        }, reject);
      }),
    );
    return ran.finally(this.#settled);
  }

  /** Whether other extensions' query hooks run around `operation` on the model (`user`): they may rewrite its result. */
  hooked(delegateKey: string, operation: string): boolean {
    return this.#hookCount(delegateKey, operation) !== 0;
  }

  /**
   * How many query hooks of the extensions below this one a query runs through; NaN when Prisma
   * cannot tell (probe it then). Counted once per model and operation: a client's extensions never
   * change (`$extends` makes another client).
   */
  #hookCount(model: string, operation: string): number {
    const key = `${model}.${operation}`;
    let count = this.#hookCounts.get(key);
    if (count === undefined) {
      count = this.#plain._extensions?.getAllQueryCallbacks?.(model, operation).length ?? Number.NaN;
      this.#hookCounts.set(key, count);
    }
    return count;
  }

  /**
   * On Node 20 an AsyncLocalStorage that has run once keeps async hooks enabled for the whole
   * process: every promise anyone creates then pays a hook (~80 ns; a quarter of an L1 hit, and a
   * tax on the application's own promises). Once no probed query is running, no hook can still
   * be waiting for a capture: disable it until the next load (`run` enables it again).
   */
  readonly #settled = () => {
    if (--this.#running === 0) this.#captures.disable();
  };
}
