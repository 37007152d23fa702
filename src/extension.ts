import { Prisma } from "@prisma/client/extension";
import { schemaFingerprint } from "./key/fingerprint.js";
import { CacheExtendedTwiceError } from "./errors.js";
import { checkBloomNeedsSchema, checkModelNames, resolveOptions } from "./options.js";
import { clientIdentity, scopedClientId } from "./prisma/client-identity.js";
import { readPrismaSchema } from "./prisma/data-model.js";
import { declareDependencies } from "./prisma/declared-dependencies.js";
import type { FluentRelations } from "./prisma/fluent-types.js";
import type { PrismaPromiseLike } from "./prisma/lazy-query.js";
import { isCacheControl } from "./prisma/cache-control.js";
import { modelThis } from "./prisma/delegates.js";
import { CacheRuntime, type CacheControl } from "./prisma/runtime.js";
import type { CacheExtensionOptions, CacheQueryOptions } from "./types.js";

export type { CacheControl } from "./prisma/runtime.js";

// `| undefined`: an app forwarding an optional option compiles under exactOptionalPropertyTypes too.
type CacheArg = { cache?: CacheQueryOptions | undefined };
type AnyFn = (this: unknown, ...args: unknown[]) => PrismaPromiseLike;
const WRITES = ["create", "createMany", "createManyAndReturn", "update", "updateMany", "updateManyAndReturn", "upsert", "delete", "deleteMany"] as const;
const RAW = { $executeRaw: false, $executeRawUnsafe: false, $queryRaw: true, $queryRawUnsafe: true, $queryRawTyped: true } as const;

/**
 * The Prisma Client extension: `prisma.$extends(cacheExtension<Prisma.ModelName>({ models: { User: true } }))`.
 * Options are validated here; model names are checked when the extension meets the client.
 * The type argument (your client's `Prisma.ModelName`) makes misspelt model names compile
 * errors, in `models` and in `$cache` methods; without it they fail at run time, clearly.
 * Apply it last: extensions added after it do not see the queries it serves.
 */
// NoInfer: the names come from the client, never from `models` (uncached models are valid in `$cache.invalidate`).
export function cacheExtension<ModelName extends string = string>(options: CacheExtensionOptions<NoInfer<ModelName>>) {
  const resolved = resolveOptions(options as CacheExtensionOptions);
  return Prisma.defineExtension((client) => {
    // Before anything opens a connection.
    if (isCacheControl((client as { $cache?: unknown }).$cache)) throw new CacheExtendedTwiceError();
    const schema = readPrismaSchema(client);
    checkModelNames(resolved.models, schema.graph.modelNames, resolved.optedOutModels);
    declareDependencies(resolved.models, schema.graph, resolved.uncachedDependsOn);
    if (!schema.exact) {
      checkBloomNeedsSchema(resolved.models, schema.inexactReason ?? NO_SCHEMA_TEXT);
      warnInexactSchema(schema.inexactReason);
    }
    const identity = clientIdentity(client, schema.graph.modelNames, schema.delegateKeys);
    if (!identity.databaseKnown) warnUnknownDatabase();
    // A static `scope` (one client per tenant) is part of what tells clients apart.
    const clientId = typeof resolved.scope === "string" ? scopedClientId(identity.id, resolved.scope) : identity.id;
    const scope = { namespace: resolved.namespace, fingerprint: schemaFingerprint(schema.dataModel, schema.shape), client: clientId, database: identity.database };
    const runtime = new CacheRuntime(resolved, schema, scope, client as never);
    const parent = client as unknown as Record<string, AnyFn>;
    const read = (operation: string) =>
      function (this: unknown, args?: unknown) {
        return runtime.read(modelThis(this, operation), operation, args as Record<string, unknown> | undefined);
      };
    const writes = Object.fromEntries(
      WRITES.map((operation) => [
        operation,
        function (this: unknown, args?: unknown) {
          return runtime.write(modelThis(this, operation), operation, args as Record<string, unknown> | undefined);
        },
      ]),
    );
    // Overrides with Prisma's own signatures: present at run time, invisible to the types.
    const hiddenClientMethods: Record<string, unknown> = {
      $transaction(this: object, input: unknown, txOptions?: unknown) {
        return runtime.transaction(this, input, txOptions, parent.$transaction as never);
      },
    };
    for (const [method, isQuery] of Object.entries(RAW)) {
      hiddenClientMethods[method] = function (this: object, ...args: unknown[]) {
        return runtime.raw(this, args, parent[method]!, isQuery);
      };
    }
    const findUnique = read("findUnique");
    const findUniqueOrThrow = read("findUniqueOrThrow");
    const findFirst = read("findFirst");
    const findFirstOrThrow = read("findFirstOrThrow");
    const findMany = read("findMany");
    const count = read("count");
    const aggregate = read("aggregate");
    const groupBy = read("groupBy");
    return client.$extends({
      name: "prisma-cache-shield",
      model: {
        $allModels: {
          ...(writes as {}),
          findUnique<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUnique"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findUnique">> & FluentRelations<T, "findUnique", null> {
            return findUnique.call(this, args) as never;
          },
          findUniqueOrThrow<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "findUniqueOrThrow"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findUniqueOrThrow">> & FluentRelations<T, "findUniqueOrThrow", never> {
            return findUniqueOrThrow.call(this, args) as never;
          },
          findFirst<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirst"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirst">> & FluentRelations<T, "findFirst", null> {
            return findFirst.call(this, args) as never;
          },
          findFirstOrThrow<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findFirstOrThrow"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findFirstOrThrow">> & FluentRelations<T, "findFirstOrThrow", never> {
            return findFirstOrThrow.call(this, args) as never;
          },
          findMany<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "findMany"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "findMany">> {
            return findMany.call(this, args) as never;
          },
          count<T, A>(this: T, args?: Prisma.Exact<A, Prisma.Args<T, "count"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "count">> {
            return count.call(this, args) as never;
          },
          aggregate<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "aggregate"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "aggregate">> {
            return aggregate.call(this, args) as never;
          },
          groupBy<T, A>(this: T, args: Prisma.Exact<A, Prisma.Args<T, "groupBy"> & CacheArg>): Prisma.PrismaPromise<Prisma.Result<T, A, "groupBy">> {
            return groupBy.call(this, args) as never;
          },
        },
      },
      client: { ...(hiddenClientMethods as {}), $cache: runtime.control as CacheControl<ModelName> },
    });
  });
}

let warned = false;

const NO_SCHEMA_TEXT = "the Prisma client carries no schema text";

function warnInexactSchema(reason = NO_SCHEMA_TEXT): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    `${reason.charAt(0).toUpperCase()}${reason.slice(1)}: unique reads are invalidated per model and cascades conservatively.`,
    { code: "PCS_INEXACT_SCHEMA", type: "PrismaCacheShieldWarning" },
  );
}

let warnedDatabase = false;

function warnUnknownDatabase(): void {
  if (warnedDatabase) return;
  warnedDatabase = true;
  process.emitWarning(
    "The client's driver adapter exposes no connection details: clients of different databases must use different namespaces, or they share entries.",
    { code: "PCS_UNKNOWN_DATABASE", type: "PrismaCacheShieldWarning" },
  );
}
