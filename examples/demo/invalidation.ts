// A write followed by reads, through the cache: the update invalidates the cached row, the next
// read loads the new value (one statement), and the read after that is a hit again.
import type { CacheControl } from "../../src/index.ts";
import type { CountingPool } from "./counting-pool.ts";

interface UserClient {
  user: {
    findUnique(args: { where: { id: number } }): PromiseLike<unknown>;
    update(args: { where: { id: number }; data: { name: string } }): PromiseLike<unknown>;
  };
  $cache: CacheControl;
}

export async function showInvalidation(prisma: UserClient, other: UserClient | undefined, pool: CountingPool, id: number): Promise<void> {
  console.log(`\nA write, then reads through the cache (User ${id}):`);
  const read = async (client: UserClient, label: string) => {
    const [statements, hits] = [pool.queries, client.$cache.stats().hits];
    const user = (await client.user.findUnique({ where: { id } })) as { name: string | null } | null;
    const source = client.$cache.stats().hits > hits ? "cache hit" : `cache miss, ${plural(pool.queries - statements, "statement")}`;
    console.log(`  ${label.padEnd(34)} name = ${JSON.stringify(user?.name)}  (${source})`);
  };
  await read(prisma, "read (cached by the runs above)");
  const statements = pool.queries;
  await prisma.user.update({ where: { id }, data: { name: "Ada Lovelace" } });
  console.log(`  ${"update name to \"Ada Lovelace\"".padEnd(34)} ${plural(pool.queries - statements, "statement")}; resolves once every instance dropped the entry`);
  await read(prisma, "read again");
  await read(prisma, "and again");
  if (other !== undefined) await read(other, "read on the other client");
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
