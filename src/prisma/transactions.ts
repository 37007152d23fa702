import { CacheClosedError, CacheError } from "../errors.js";
import type { Announcement } from "../invalidation/versions.js";
import type { Announced, WriteAnnouncer } from "../invalidation/write-announcer.js";
import type { PrismaPromiseLike } from "./lazy-query.js";
import { outcomeOfError, type FailedWriteOutcome } from "./write-outcome.js";
import type { WriteGate, WriteProgress } from "./write-gate.js";

/** Prisma marks the client of an interactive transaction with this symbol (an internal detail). */
export const TRANSACTION_SCOPE = Symbol.for("prisma.client.transaction.scope_context");

export type ScopedClient = { [TRANSACTION_SCOPE]?: { txId?: string } };
export type TransactionFn = (this: unknown, input: unknown, options?: unknown) => Promise<unknown>;

/** What TransactionInvalidations needs to handle a transaction client it does not carry. */
export interface OutsideTransactions {
  /** Whether `tx` is a transaction client of this cache's client (its writes come through the cache). */
  carriesCache(tx: object): boolean;
  /** Every cached read's names: what a transaction whose writes the cache cannot see invalidates. */
  everyName(): Iterable<string>;
  report(error: CacheError): void;
}

/** One run of an interactive transaction's callback: an extension below the cache that retries the transaction runs it again. */
interface Attempt {
  txId: string | undefined;
  /** Run on a client without the cache (see OutsideTransactions): `names` are every cached model's. */
  outside: boolean;
  names: Set<string>;
  announcing?: Promise<Announced>;
}

/**
 * Invalidation around transactions: a write inside an interactive transaction is buffered under
 * the transaction's id; what the transaction changed is announced when its callback returned
 * (before Prisma commits it: nothing was visible to other connections before) and confirmed
 * once it committed — before `$transaction` resolves. A rolled-back transaction announces and
 * publishes nothing, but for writes another extension's hook ran around (see interactive). A batch announces what its writes' arguments name, then confirms their effects.
 */
export class TransactionInvalidations {
  readonly #open = new Map<string, Set<string>>();
  /**
   * Of an open transaction's names, those of writes another extension's query hook runs around:
   * such a hook may run its write outside the transaction, committed at once whatever the
   * transaction does (see interactive).
   */
  readonly #hooked = new Map<string, Set<string>>();
  /** Open transactions asked for before close() began: they may still write while it waits (WriteGate). */
  readonly #askedBeforeClose = new Set<string>();
  readonly #announcer: WriteAnnouncer;
  /** Elements of the batches this cache runs (it announces and confirms them itself). */
  readonly #batched = new WeakSet<object>();

  /** What a write that may or may not have committed invalidates, from its announced names (WriteNames.ofUnresolved). */
  readonly #unresolvedNames: (announced: ReadonlySet<string>) => Iterable<string>;
  /** Refuses transactions that write once the cache was closed (see WriteGate). */
  readonly #gate: WriteGate;

  readonly #outside: OutsideTransactions;
  #reportedOutside = false;

  constructor(announcer: WriteAnnouncer, unresolvedNames: (announced: ReadonlySet<string>) => Iterable<string>, gate: WriteGate, outside: OutsideTransactions) {
    this.#announcer = announcer;
    this.#unresolvedNames = unresolvedNames;
    this.#gate = gate;
    this.#outside = outside;
  }

  /** Whether `client` belongs to an interactive transaction this process tracks. */
  inTransaction(client: ScopedClient): boolean {
    const txId = client[TRANSACTION_SCOPE]?.txId;
    return txId !== undefined && this.#open.has(txId);
  }

  /** Whether `client` belongs to an open interactive transaction asked for before close() began (see WriteGate). */
  drains(client: ScopedClient): boolean {
    const txId = client[TRANSACTION_SCOPE]?.txId;
    return txId !== undefined && this.#askedBeforeClose.has(txId);
  }

  /**
   * Confirms a write now (with its announcement), or buffers it for the commit of the transaction
   * `client` belongs to (whose confirmation adds every identity it bumps to the Bloom filters).
   */
  async apply(names: Iterable<string>, client: ScopedClient, announcement?: Announcement, addsIdentities = true, hooked = false, onTaken?: () => void): Promise<void> {
    const txId = client[TRANSACTION_SCOPE]?.txId;
    const buffer = txId === undefined ? undefined : this.#open.get(txId);
    if (buffer === undefined) return this.#announcer.confirm(new Set(names), announcement, addsIdentities, onTaken);
    let hookedBuffer = hooked ? this.#hooked.get(txId!) : undefined;
    if (hooked && hookedBuffer === undefined) this.#hooked.set(txId!, (hookedBuffer = new Set()));
    for (const name of names) {
      buffer.add(name);
      hookedBuffer?.add(name);
    }
  }

  /** `$transaction(async (tx) => …)`, run by Prisma on the extended client so `tx` keeps the extension. */
  async interactive(client: ScopedClient, callback: (tx: unknown) => unknown, options: unknown, parentTransaction: TransactionFn, progress?: WriteProgress): Promise<unknown> {
    // A nested transaction belongs to the outer one: the outer commit applies everything.
    if (client[TRANSACTION_SCOPE] !== undefined) return parentTransaction.call(client, callback, options);
    const attempts: Attempt[] = [];
    // Asked for now, not when Prisma starts it (it may wait for a connection first).
    const askedBeforeClose = !this.#gate.closed;
    const tracked = async (tx: ScopedClient) => {
      const txId = tx[TRANSACTION_SCOPE]?.txId;
      const outside = !this.#carries(tx);
      const attempt: Attempt = { txId, outside, names: new Set(outside ? this.#outside.everyName() : []) };
      attempts.push(attempt);
      const names = attempt.names;
      if (txId !== undefined) {
        this.#open.set(txId, names);
        if (askedBeforeClose) this.#askedBeforeClose.add(txId);
      }
      // What close() reports as undelivered if the transaction still runs when it closes the connections.
      if (progress !== undefined) progress.names = () => names;
      const result = await callback(tx);
      if (names.size > 0) {
        // Closed meanwhile (and no longer draining, for one asked for before): thrown here, the
        // transaction rolls back (its writes were buffered, nothing is committed).
        this.#gate.refuseIfClosed("$transaction", () => askedBeforeClose);
        // Announced before Prisma commits: its bytes leave for Redis before the COMMIT's. Its reply
        // is awaited here only if a write Redis cannot take must be refused (the transaction then
        // rolls back); otherwise after the commit, so a slow Redis does not eat into the
        // transaction's `timeout` (see WriteAnnouncer.alongside for why that order is as safe).
        attempt.announcing = this.#announcer.announceSettled(names, "transaction", txId);
        if (this.#announcer.refusesUnannounced) {
          const first = await attempt.announcing;
          if ("error" in first) throw first.error;
        }
      }
      return result;
    };
    let result: unknown;
    try {
      result = await parentTransaction.call(client, tracked, options);
    } catch (error) {
      const last = attempts.pop();
      // Earlier runs of a retried transaction: their outcome is not known.
      await this.#settleAttempts(attempts, "unknown");
      const names = last?.names;
      const hooked = last?.txId === undefined ? undefined : this.#hooked.get(last.txId);
      this.#forget(last?.txId);
      const announced = await last?.announcing;
      const announcement = announced !== undefined && "announcement" in announced ? announced.announcement : undefined;
      // The commit failed after the announcement: refused, its marks are removed (an over-invalidation,
      // never a stale read); a lost reply may hide a commit (or one still to come): see write-outcome.ts.
      if (announcement !== undefined && names !== undefined) await this.settleFailed(outcomeOfError(error), names, announcement);
      // Rolled back before anything was announced, yet the writes another extension's hook ran
      // around are invalidated as if they had committed: the hook may have run them outside the
      // transaction, committed at once (Prisma's row-level-security example runs every query in a
      // batch transaction of its own base client; outside probe 156: the row served as before the
      // write for its whole ttl). Not when this cache refused the transaction (closed, or Redis
      // could not take the announcement under "refuse"): it cannot deliver them either.
      else if (hooked !== undefined && hooked.size > 0 && !(error instanceof CacheClosedError) && !(announced !== undefined && "error" in announced)) await this.#announcer.confirm(hooked, undefined);
      // Given a client that is in no transaction at all (an override below the cache that calls the
      // callback with its own client): what the callback wrote committed as it went, rollback or not
      // (outside probe 275: 40 of 40 reads stale after a callback that wrote, then threw).
      else if (last !== undefined && last.outside && last.txId === undefined && !(error instanceof CacheClosedError)) await this.#announcer.confirm(last.names, undefined);
      throw error;
    }
    const last = attempts.pop();
    this.#forget(last?.txId);
    const announced = await last?.announcing;
    // Not a Redis failure (those are counted as unannounced): a bug, reported as the transaction's error.
    if (announced !== undefined && "error" in announced) throw announced.error;
    if (last !== undefined && (last.names.size > 0 || last.txId !== undefined)) await this.#announcer.confirm(last.names, announced?.announcement, true, progress?.taken);
    // Earlier runs, rolled back or not: what they announced is confirmed after the last one committed (a bump more, never a stale read).
    await this.#settleAttempts(attempts, "committed");
    return result;
  }

  /** Whether `tx` carries this cache; reported once when it does not (see OutsideTransactions). */
  #carries(tx: object): boolean {
    if (this.#outside.carriesCache(tx)) return true;
    if (!this.#reportedOutside) {
      this.#reportedOutside = true;
      this.#outside.report(
        new CacheError(
          "E_TRANSACTION_OUTSIDE_CACHE",
          "$transaction(callback) was given a transaction client without this cache: an extension applied before cacheExtension() runs interactive transactions on the client below it (it overrides $transaction, as prisma-extension-kysely and retry-on-conflict extensions do), so the cache cannot see the writes made through `tx`. Each such transaction now invalidates every cached model when it commits; apply that extension after cacheExtension() to invalidate only what it changes (reported once).",
        ),
      );
    }
    return false;
  }

  /** Runs of a retried transaction before the last one: each announcement confirmed, or left to lapse when what it did is not known. */
  async #settleAttempts(attempts: readonly Attempt[], outcome: "committed" | "unknown"): Promise<void> {
    for (const attempt of attempts) {
      this.#forget(attempt.txId);
      const announced = await attempt.announcing;
      if (announced === undefined || !("announcement" in announced)) continue;
      await this.settleFailed(outcome, attempt.names, announced.announcement);
    }
  }

  #forget(txId: string | undefined): void {
    if (txId === undefined) return;
    this.#open.delete(txId);
    this.#hooked.delete(txId);
    this.#askedBeforeClose.delete(txId);
  }

  /**
   * A write inside an interactive transaction that failed: it may have run before failing (an
   * earlier extension's hook that throws after its query ran: an audit sink down), and the caller
   * may catch the error and commit (outside probe 160: the row served as before the commit).
   * Buffered as a write of unknown outcome: every unique read of what it names too.
   */
  applyFailed(announced: ReadonlySet<string>, client: ScopedClient, changed: () => Iterable<string>, hooked = false): Promise<void> {
    return this.apply([...this.#unresolvedNames(announced), ...changed()], client, undefined, true, hooked);
  }

  /** `$transaction([...])`: announced from the elements' arguments; each element's effects are known from its own result once all committed. */
  async batch(client: ScopedClient, input: readonly PrismaPromiseLike[], options: unknown, parentTransaction: TransactionFn, effectsOf: (element: unknown, result: unknown) => Iterable<string>, announcedOf: (element: unknown) => Iterable<string>, progress?: WriteProgress): Promise<unknown> {
    const announced = new Set<string>();
    for (const element of input) for (const name of announcedOf(element)) announced.add(name);
    // Refused as a whole, before any element joins it: a batch is all or nothing.
    if (announced.size > 0) this.#gate.refuseIfClosed("$transaction", () => this.drains(client));
    for (const element of input) if (typeof element === "object" && element !== null) this.#batched.add(batchIdentity(element));
    // Prisma checks the batch before it runs any of it, and throws at once when it refuses it (an
    // element that is not a Prisma promise): nothing ran. Taken as a write of unknown outcome, its
    // names were kept uncached fleet-wide for `lateCommitWindow`, and on a client extended after
    // the cache close() then reported them undelivered (outside probe 216).
    let refusedAtOnce = true;
    const run = () => {
      const running = parentTransaction.call(client, input, options) as Promise<unknown[]>;
      refusedAtOnce = false;
      return running;
    };
    // Announced while the batch runs, as a single write is (WriteAnnouncer.alongside).
    const outcome = announced.size === 0 ? { result: await run(), announcement: undefined } : await this.#announcer.alongside(announced, "transaction", true, run);
    const announcement = outcome.announcement;
    // `tx.$transaction([...])` inside an interactive transaction: Prisma commits it on its own when
    // the client below the cache is the plain client, and runs it inside the outer transaction when
    // that client was extended (any extension). So it is confirmed now, and applied again when the
    // outer transaction ends (outside probe 160: with an extension below, rows read between the
    // batch and the outer COMMIT were cached as before it, for their ttl).
    const nested = this.inTransaction(client);
    if ("error" in outcome) {
      await this.settleFailed(refusedAtOnce ? "refused" : outcomeOfError(outcome.error), announced, announcement);
      // Caught by the caller inside the outer transaction, what ran of it may still commit with it.
      if (nested) await this.applyFailed(announced, client, () => []);
      throw outcome.error;
    }
    const results = outcome.result;
    const names = batchEffects(input, results, effectsOf, announced);
    await this.#announcer.confirm(names, announcement, true, progress?.taken);
    if (nested) await this.apply(names, client);
    return results;
  }

  /**
   * A write or transaction that failed after it was announced (see write-outcome.ts). Refused: its
   * marks are removed (the bump only over-invalidates). Answered by the database before something
   * after it failed: confirmed like a write that resolved, with what it `changed`. Otherwise it may
   * have committed, or still commit: every unique read of what it writes is invalidated too, and
   * its marks are left to lapse (WriteAnnouncer.unresolved).
   */
  async settleFailed(outcome: FailedWriteOutcome, announced: ReadonlySet<string>, announcement: Announcement | undefined, changed: () => Iterable<string> = () => [], addsIdentities = true): Promise<void> {
    if (outcome === "unknown") return this.#announcer.unresolved(new Set([...this.#unresolvedNames(announced), ...changed()]), announcement);
    if (outcome === "committed") return this.#announcer.confirm(new Set([...announced, ...changed()]), announcement, addsIdentities);
    if (announcement !== undefined) await this.#announcer.withdraw(announced, announcement);
  }

  /**
   * `plain`, the query an element of a batch this cache runs joins it through, belongs to that
   * batch too. On a client extended after the cache it is the cache's own method again (the
   * element's client's parent still has it), a query of its own: kept apart, its part of a batch
   * Prisma then refused never settled, and close() waited for it and reported its names
   * undelivered (outside probe 216).
   */
  sameBatch(element: object, plain: unknown): void {
    if (this.#batched.has(element) && typeof plain === "object" && plain !== null) this.#batched.add(batchIdentity(plain));
  }

  /** Whether `element` belongs to a batch this cache runs (which confirms it). */
  runsBatchOf(element: object): boolean {
    return this.#batched.has(element);
  }

  /**
   * A write joining a batch `$transaction([...])`: `joined` is its plain query's part of the batch.
   * A batch this cache runs confirms it; a batch of a client below the cache (`base.$transaction([
   * cached.user.update(…)])`) or of another cache knows nothing of it, so it confirms its own
   * effects before its result reaches that batch, whose promise waits for every element's.
   */
  joinedBatch(element: object, joined: PromiseLike<unknown>, effects: (result: unknown) => Iterable<string>, announced: () => Iterable<string>): PromiseLike<unknown> {
    if (this.runsBatchOf(element)) return joined;
    return Promise.resolve(joined).then(
      async (result) => {
        await this.#announcer.confirm(new Set(effects(result)), undefined);
        return result;
      },
      // The batch may have committed (its COMMIT's reply lost): see write-outcome.ts.
      async (error: unknown) => {
        await this.settleFailed(outcomeOfError(error), new Set(announced()), undefined);
        throw error;
      },
    );
  }
}

/** What a batch knows an element by: the query itself, also when the element is a Proxy around it (a chainable fluent write). */
function batchIdentity(element: object): object {
  return (element as { $self?: object }).$self ?? element;
}

/** What a batch changed: what its elements' arguments name, and each element's effects from its own result. */
function batchEffects(input: readonly PrismaPromiseLike[], results: readonly unknown[], effectsOf: (element: unknown, result: unknown) => Iterable<string>, announced: ReadonlySet<string>): Set<string> {
  const names = new Set<string>(announced);
  input.forEach((element, i) => {
    for (const name of effectsOf(element, results[i])) names.add(name);
  });
  return names;
}
