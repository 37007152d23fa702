import { inject, describe, expect, it } from "vitest";
import { createCachedClient, uniqueNamespace } from "../helpers/client.ts";
import { runChild } from "../helpers/child-process.ts";
import { seedUser } from "../helpers/seed.ts";
import { databaseUrl } from "../helpers/databases.ts";

interface ReaderReport {
  queries: number;
  l2Hits: number;
  email: string;
  posts: number;
  balance: string;
  visits: string;
}

describe("several processes share one cache", () => {
  it("derives the same key in every process and after a restart: other instances read the entry with no query", async () => {
    const namespace = uniqueNamespace();
    const a = createCachedClient({ namespace, redisTimeout: 5_000 });
    try {
      const user = await seedUser(a.base);
      await a.prisma.user.findUnique({ where: { id: user.id }, include: { posts: { orderBy: { id: "asc" } } } });
      const env = { DATABASE_URL: databaseUrl(), REDIS_URL: inject("redisUrl"), NAMESPACE: namespace, USER_ID: String(user.id) };
      const reports = await Promise.all([runChild<ReaderReport>("reader.ts", env), runChild<ReaderReport>("reader.ts", env)]);
      // A third process started after the others exited: a restart finds the same entry.
      reports.push(await runChild<ReaderReport>("reader.ts", env));
      for (const report of reports) {
        expect(report).toEqual({ queries: 0, l2Hits: 1, email: user.email, posts: 2, balance: "1234567.890123", visits: "9007199254740993" });
      }
    } finally {
      await a.close();
    }
  });
});
