import type { PrismaPromiseLike } from "./lazy-query.js";

/** Prisma marks the client of an interactive transaction with this symbol (an internal detail). */
export const TRANSACTION_SCOPE = Symbol.for("prisma.client.transaction.scope_context");

export type ScopedClient = { [TRANSACTION_SCOPE]?: { txId?: string } };
export type TransactionFn = (this: unknown, input: unknown, options?: unknown) => Promise<unknown>;

/**
 * Invalidation around transactions: a write inside an interactive transaction is buffered under
 * the transaction's id and applied when it commits — before `$transaction` resolves — and
 * dropped when it rolls back; a batch applies its writes' effects once the batch committed.
 */
export class TransactionInvalidations {
  readonly #open = new Map<string, Set<string>>();
  readonly #bump: (names: Iterable<string>) => Promise<void>;

  constructor(bump: (names: Iterable<string>) => Promise<void>) {
    this.#bump = bump;
  }

  /** Applies a write's invalidation now, or when the interactive transaction `client` belongs to commits. */
  async apply(names: Iterable<string>, client: ScopedClient): Promise<void> {
    const txId = client[TRANSACTION_SCOPE]?.txId;
    const buffer = txId === undefined ? undefined : this.#open.get(txId);
    if (buffer === undefined) return this.#bump(new Set(names));
    for (const name of names) buffer.add(name);
  }

  /** `$transaction(async (tx) => …)`, run by Prisma on the extended client so `tx` keeps the extension. */
  async interactive(client: ScopedClient, callback: (tx: unknown) => unknown, options: unknown, parentTransaction: TransactionFn): Promise<unknown> {
    // A nested transaction belongs to the outer one: the outer commit applies everything.
    if (client[TRANSACTION_SCOPE] !== undefined) return parentTransaction.call(client, callback, options);
    let txId: string | undefined;
    const tracked = (tx: ScopedClient) => {
      txId = tx[TRANSACTION_SCOPE]?.txId;
      if (txId !== undefined) this.#open.set(txId, new Set());
      return callback(tx);
    };
    try {
      const result = await parentTransaction.call(client, tracked, options);
      const names = txId === undefined ? undefined : this.#open.get(txId);
      if (names !== undefined) await this.#bump(names);
      return result;
    } finally {
      // A rolled-back transaction publishes nothing.
      if (txId !== undefined) this.#open.delete(txId);
    }
  }

  /** `$transaction([...])`: each element's effects are known from its own result once all committed. */
  async batch(client: ScopedClient, input: readonly PrismaPromiseLike[], options: unknown, parentTransaction: TransactionFn, effectsOf: (element: unknown, result: unknown) => Iterable<string>): Promise<unknown> {
    const results = (await parentTransaction.call(client, input, options)) as unknown[];
    const names = new Set<string>();
    input.forEach((element, i) => {
      for (const name of effectsOf(element, results[i])) names.add(name);
    });
    await this.#bump(names);
    return results;
  }
}
