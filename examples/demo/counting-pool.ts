import pg from "pg";

/**
 * A pg pool that counts the statements sent through it, which is every query Prisma runs outside
 * an interactive transaction. PrismaPg uses a pool passed to it only if `instanceof pg.Pool` holds,
 * hence a subclass rather than a wrapper.
 */
export class CountingPool extends pg.Pool {
  queries = 0;

  // pg.Pool#query has a dozen overloads; one variadic signature satisfies them all.
  override query(...args: any[]): any {
    this.queries++;
    return Reflect.apply(super.query, this, args);
  }
}
