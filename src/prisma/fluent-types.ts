import type { Prisma } from "@prisma/client/extension";

type Operation = "findUnique" | "findUniqueOrThrow" | "findFirst" | "findFirstOrThrow";

/** The payload type Prisma attaches to a model's extension `this` under a symbol key. */
type ModelPayload<T> = T extends { [K: symbol]: { types: { payload: infer P } } } ? P : never;
type RelationNames<T> = keyof (ModelPayload<T> extends { objects: infer O } ? O : never) & string;
type SelectArgs<T, F extends Operation> = NonNullable<Prisma.Args<T, F> extends { select?: infer S } ? S : never>;
type RelationArgs<T, F extends Operation, K extends string> = Exclude<K extends keyof SelectArgs<T, F> ? SelectArgs<T, F>[K] : never, boolean | undefined | null>;

/**
 * The fluent relation methods on a single-record read (`findUnique(...).posts()`), typed from the
 * model's payload, one level deep. Deeper chains work at run time through Prisma's own query.
 */
export type FluentRelations<T, F extends Operation, Null> = {
  [K in RelationNames<T>]: <A = true>(
    args?: Prisma.Exact<A, RelationArgs<T, F, K>>,
  ) => Prisma.PrismaPromise<NonNullable<Prisma.Result<T, { select: { [P in K]: A } }, F>>[K & keyof NonNullable<Prisma.Result<T, { select: { [P in K]: A } }, F>>] | Null>;
};
