import type { Delegates, LazyQuery, PrismaPromiseLike } from "./lazy-query.js";
import type { ScopedClient } from "./transactions.js";

/** What Prisma binds `this` to in a model-component override: the model's name and the client below the extension. */
export type ExtensionThis = { $name: string; $parent: Delegates & ScopedClient };

/**
 * What Prisma bound `this` to, checked: a method taken off its model (`const { findMany } =
 * prisma.user`) has none. Plain Prisma's own methods are bound closures and still work detached;
 * an extension's method cannot be (Prisma shares it between models and clients, a transaction's
 * too, and running it outside the caller's transaction would be wrong), so it says so.
 */
export function modelThis(self: unknown, operation: string): ExtensionThis {
  // Not reading `$name` here: on Prisma's model object it is a proxied getter, and every read (an L1 hit too) pays for it.
  if (typeof self !== "object" || self === null) {
    throw new TypeError(`prisma-cache-shield: ${operation}() was called without its model (a method taken off \`prisma.<model>\`); call it as a method — prisma.user.${operation}(args), or wrap it: (args) => prisma.user.${operation}(args)`);
  }
  return self as ExtensionThis;
}

/** A model's delegate (`client.user` for `User`) on the given client: the extension's client or a transaction's. */
export function delegateOf(delegateKeys: ReadonlyMap<string, string>, parent: Delegates, model: string): Record<string, (args: unknown) => PrismaPromiseLike> {
  return parent[delegateKeys.get(model)!]!;
}

/** The query as plain Prisma would run it: on the caller's client, without the cache. */
export function passthrough(delegateKeys: ReadonlyMap<string, string>, query: LazyQuery): PrismaPromiseLike {
  return delegateOf(delegateKeys, query.$parent, query.$model)[query.$operation]!(query.$args);
}
