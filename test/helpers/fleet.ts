import { expect } from "vitest";
import { createCachedClient, uniqueNamespace } from "./client.ts";

type Cached = ReturnType<typeof createCachedClient>;
export type CachedPrisma = Cached["prisma"];

/**
 * Three instances sharing one namespace and Redis: `writer` writes; `l1Reader` serves repeated
 * reads from its L1; `redisReader` has no L1, so it serves from Redis. A read checked on both
 * readers right after a write resolves covers both paths.
 */
export function createFleet(options: Parameters<typeof createCachedClient>[0] = {}) {
  const namespace = options.namespace ?? uniqueNamespace();
  const writer = createCachedClient({ ...options, namespace });
  const l1Reader = createCachedClient({ ...options, namespace });
  const redisReader = createCachedClient({ ...options, namespace, l1: false });

  /** Reads until cached on both readers (no database query on the second read), writes, reads again. */
  async function afterWrite<T>(read: (p: CachedPrisma) => PromiseLike<T>, write: () => PromiseLike<unknown>) {
    for (const reader of [l1Reader, redisReader]) {
      await read(reader.prisma);
      const before = reader.pool.queries;
      await read(reader.prisma);
      expect(reader.pool.queries, "the read is cached before the write").toBe(before);
    }
    await write();
    return { fromL1: await read(l1Reader.prisma), fromRedis: await read(redisReader.prisma), expected: await read(writer.base as never) };
  }

  /** After `write` resolves, both readers return what plain Prisma returns. */
  async function expectFresh<T>(read: (p: CachedPrisma) => PromiseLike<T>, write: () => PromiseLike<unknown>): Promise<T> {
    const { fromL1, fromRedis, expected } = await afterWrite(read, write);
    expect(fromL1, "from the reader's L1").toEqual(expected);
    expect(fromRedis, "from Redis").toEqual(expected);
    return expected;
  }

  return {
    namespace,
    writer,
    l1Reader,
    redisReader,
    afterWrite,
    expectFresh,
    async close() {
      await Promise.all([writer.close(), l1Reader.close(), redisReader.close()]);
    },
  };
}
