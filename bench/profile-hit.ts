// A loop of cache hits and nothing else, to profile one path with `--cpu-prof`:
//
//   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-hit.ts --tier=l1   (or --tier=l2)
//   npx tsx bench/profile-summary.ts /tmp/prof/CPU.*.cpuprofile
//
// The row is bench/read-path.ts's (Decimal, BigInt, Date, Bytes, Json); the read is the same
// `findUnique` by id. Prints µs per hit (sequential awaits) so profiles can be compared.
import { PrismaPg } from "@prisma/adapter-pg";
import { cacheExtension } from "../src/index.ts";
import { Cleanup, deleteNamespace, ensureGeneratedClient, openScratchResources, uniqueNamespace } from "./lib/setup.ts";

const tier = process.argv.find((arg) => arg.startsWith("--tier="))?.slice(7) ?? "l1";
if (tier !== "l1" && tier !== "l2") throw new Error(`--tier: "l1" or "l2", not "${tier}"`);
const hits = Number(process.argv.find((arg) => arg.startsWith("--hits="))?.slice(7) ?? (tier === "l1" ? 300_000 : 20_000));

async function main(): Promise<void> {
  ensureGeneratedClient();
  const { PrismaClient, Prisma } = await import("../prisma/generated/client.ts");
  const cleanup = new Cleanup();
  try {
    const { db, redis } = await openScratchResources("pcs_bench_profile_hit", cleanup);
    const namespace = uniqueNamespace("bench-profile-hit");
    cleanup.add("delete namespace keys", () => deleteNamespace(redis, namespace));
    const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    cleanup.add("disconnect Prisma", () => base.$disconnect());
    const { id } = await base.user.create({
      data: {
        email: "profile@bench.example",
        name: "Profile User",
        balance: new Prisma.Decimal("1000.123456"),
        visits: 9_007_199_254_740_993n,
        score: 1.25,
        avatar: new Uint8Array(64).map((_, i) => (i * 37) & 0xff),
        profile: { theme: "dark", locale: "en-GB", tags: ["alpha", "beta", "gamma"], notifications: { email: true, sms: false }, logins: [1, 2, 3] },
      },
    });
    const client = base.$extends(cacheExtension({ redis, namespace, ttl: 3600, l1: tier === "l1" ? undefined : false, models: { User: true } }));
    cleanup.add("close cache", () => client.$cache.close());
    await client.user.findUnique({ where: { id } });
    await new Promise((resolve) => setTimeout(resolve, 100)); // the Redis fill lands
    for (let i = 0; i < hits / 10; i++) await client.user.findUnique({ where: { id } });
    const before = client.$cache.stats();
    const t0 = performance.now();
    for (let i = 0; i < hits; i++) await client.user.findUnique({ where: { id } });
    const us = ((performance.now() - t0) * 1000) / hits;
    const after = client.$cache.stats();
    const served = tier === "l1" ? after.l1Hits - before.l1Hits : after.l2Hits - before.l2Hits;
    process.stdout.write(`${tier} hit: ${us.toFixed(2)} µs per call (mean of ${hits.toLocaleString("en-US")} sequential awaits; ${served} served from ${tier}, ${after.dbLoads - before.dbLoads} DB loads)\n`);
  } finally {
    await cleanup.run();
  }
}

await main();
