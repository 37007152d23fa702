import type { createCachedClient } from "./client.ts";

/**
 * Updates the user through `writer` until three writes in a row waited out no acknowledgement
 * (`invalidationAckTimeouts` unchanged), at most `attempts` writes: how many in a row at the end.
 * A writer stops waiting once every connection PUBLISH counts belongs to an instance that answers.
 */
export async function unwaitedWritesInARow(writer: ReturnType<typeof createCachedClient>, userId: number, attempts: number): Promise<number> {
  let unwaited = 0;
  for (let i = 0; i < attempts && unwaited < 3; i++) {
    const timeouts = writer.prisma.$cache.stats().invalidationAckTimeouts;
    await writer.prisma.user.update({ where: { id: userId }, data: { name: `written ${i}` } });
    unwaited = writer.prisma.$cache.stats().invalidationAckTimeouts === timeouts ? unwaited + 1 : 0;
  }
  return unwaited;
}
