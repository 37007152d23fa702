import type { Delegates, LazyQuery, PrismaPromiseLike } from "./lazy-query.js";
import type { ScopedClient } from "./transactions.js";

/** What Prisma binds `this` to in a model-component override: the model's name and the client below the extension. */
export type ExtensionThis = { $name: string; $parent: Delegates & ScopedClient };

/** A model's delegate (`client.user` for `User`) on the given client: the extension's client or a transaction's. */
export function delegateOf(delegateKeys: ReadonlyMap<string, string>, parent: Delegates, model: string): Record<string, (args: unknown) => PrismaPromiseLike> {
  return parent[delegateKeys.get(model)!]!;
}

/** The query as plain Prisma would run it: on the caller's client, without the cache. */
export function passthrough(delegateKeys: ReadonlyMap<string, string>, query: LazyQuery): PrismaPromiseLike {
  return delegateOf(delegateKeys, query.$parent, query.model)[query.operation]!(query.args);
}
