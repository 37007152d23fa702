import { afterEach, describe, expect, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { seedUser } from "../helpers/seed.ts";
import { until } from "../helpers/wait.ts";

/**
 * Callers reuse one arguments object for consecutive reads (`args.where.id = next; await
 * findUnique(args)`). A background refresh runs after its caller moved on: it must load what the
 * read asked for when it started, not what the object says by then — else the next record's row
 * is stored under this read's key, in L1 and, for the whole fleet, in Redis.
 */
describe("a caller that reuses its arguments object", () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.close()));
  });

  it("a stale read's background refresh stores the row it was asked for (this instance's L1 and another instance)", async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const namespace = uniqueNamespace();
    const options = { namespace, clock, earlyRefreshBeta: 0, models: { User: { ttl: 1, swr: 600 } } };
    const reader = createCachedClient(options);
    const other = createCachedClient({ ...options, l1: false });
    open.push(reader, other);
    const [a, b] = [await seedUser(reader.base), await seedUser(reader.base)];
    // The same call with arguments of either spelling (typed loosely: the test mutates them).
    const findUser = (client: typeof reader, args: unknown) => (client.prisma.user.findUnique as (args: unknown) => Promise<{ id: number } | null>)(args);
    // A plain object, and a DTO instance whose where is its own field, as apps build queries.
    class UserQuery {
      constructor(public where: Record<string, unknown>) {}
    }
    const spellings = [
      ["id", (where: Record<string, unknown>) => ({ where })],
      ["email", (where: Record<string, unknown>) => ({ where })],
      ["id", (where: Record<string, unknown>) => new UserQuery(where)],
    ] as const;
    for (const [field, build] of spellings) {
      now += 700_000; // past ttl + swr of the previous round's entries
      const args = build({ [field]: a[field] });
      await findUser(reader, args);
      now += 2_000; // past ttl, within swr
      const loads = reader.prisma.$cache.stats().dbLoads;
      // Served stale at once; its refresh starts in the background.
      expect((await findUser(reader, args))?.id).toBe(a.id);
      args.where[field] = b[field];
      await until(() => reader.prisma.$cache.stats().dbLoads > loads);
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (const client of [reader, other]) {
        expect((await findUser(client, { where: { [field]: a[field] } }))?.id, `${field}${args instanceof UserQuery ? " (a DTO)" : ""}, ${client === reader ? "L1" : "Redis"}`).toBe(a.id);
      }
    }
  });
});
