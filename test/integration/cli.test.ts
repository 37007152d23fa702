import net from "node:net";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { TopQuery } from "../../src/index.ts";
import { createCachedClient, createRedis, uniqueNamespace } from "../helpers/client.ts";
import { deleteEntries, queriesFor, runRecorded, seedUsers, serveTraffic, type AppQuery } from "../helpers/stats.ts";
import { databaseUrl } from "../helpers/databases.ts";
import { bundle } from "../helpers/bundle.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

const CLI = join(ROOT, "src/cli/main.ts");
/** The client modules the tests point --client at, bundled with the CLI: the two share one copy of the library. */
const FIXTURES = ["cli-client.ts", "cli-client-redis-down.ts", "not-a-client.ts"].map((name) => join(ROOT, "test/fixtures", name));

/** Runs the CLI from source (bundled, see helpers/bundle.ts), as `npx prisma-cache-shield` runs the built one. */
function cli(args: readonly string[], namespace: string, databaseUrlOfApp = databaseUrl()): Promise<CliRun> {
  const env = { ...process.env, DATABASE_URL: databaseUrlOfApp, REDIS_URL: inject("redisUrl"), PCS_NAMESPACE: namespace };
  const modules = bundle("cli", [CLI, ...FIXTURES]);
  const bundledArgs = args.map((arg) => modules.get(join(ROOT, arg)) ?? arg);
  const child = spawn(process.execPath, ["--enable-source-maps", modules.get(CLI)!, ...bundledArgs], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("the CLI against real services", () => {
  const namespace = uniqueNamespace();
  const app = createCachedClient({ namespace, models: { User: true, Post: true }, hotKeys: { threshold: 1_000 } });
  const redis = createRedis();
  let queries: AppQuery[] = [];
  const client = ["--client", "test/fixtures/cli-client.ts"];

  beforeAll(async () => {
    queries = queriesFor(await seedUsers(app.base, 4));
    await serveTraffic(app.prisma, queries, 12);
    // Flushes the sampled reads and publishes the counters, as the app's timer would.
    await app.prisma.$cache.drain();
  });
  afterAll(async () => {
    await app.close();
    redis.disconnect();
  });

  it("top lists the most valuable recorded queries", async () => {
    const json = await cli(["top", ...client, "--json", "--limit", "5"], namespace);
    expect(json.stderr).toBe("");
    expect(json.status).toBe(0);
    const listed = JSON.parse(json.stdout) as TopQuery[];
    expect(listed).toHaveLength(5);
    expect(listed.every((query) => query.skipReason === undefined && query.readable)).toBe(true);
    expect(listed.map((query) => query.score)).toEqual([...listed.map((query) => query.score)].sort((a, b) => b - a));
    const text = await cli(["top", ...client, "--model", "User"], namespace);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/#\s+share\s+query\s+args/);
    expect(text.stdout).toContain("user.findUnique");
    expect(text.stdout).not.toContain("post.");
    expect(text.stdout.trim().split("\n")).toHaveLength(2 + 4);
    // A share is of every recorded query, not of the rows printed (outside probe 239: `--limit 1` said 100 %).
    const first = await cli(["top", ...client, "--limit", "1"], namespace);
    const share = Number(/^\s*1\s+([0-9.]+)\s*%/m.exec(first.stdout)?.[1]);
    expect(share).toBeGreaterThan(0);
    expect(share).toBeLessThan(100);
  }, 60_000);

  it("stats shows the fleet's counters per model, with entries and hot queries", async () => {
    const expected = app.prisma.$cache.stats();
    const json = await cli(["stats", ...client, "--json"], namespace);
    expect(json.status, json.stderr).toBe(0);
    const fleet = JSON.parse(json.stdout) as { namespace: string; instances: number; stats: { hits: number; misses: number }; entries: Record<string, number>; hotQueries: Record<string, unknown[]> };
    expect(fleet.namespace).toBe(namespace);
    expect(fleet.instances).toBe(1);
    expect(fleet.stats).toMatchObject({ hits: expected.hits, misses: expected.misses });
    expect(fleet.entries).toEqual({ User: 4, Post: 8 });
    expect(fleet.hotQueries.User).toHaveLength(2);
    const text = await cli(["stats", ...client], namespace);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`namespace ${namespace}: 1 live instance published counters`);
    expect(text.stdout).toMatch(/model\s+hit rate\s+hits\s+misses\s+entries\s+hot queries/);
    expect(text.stdout).toMatch(/\nUser\s+\d+\.\d %\s+[\d,]+\s+4\s+4\s+user\.findUnique/);
    expect(text.stdout).toContain("tiers: L1 hits");
    expect(text.stdout, "one server: entries counted").not.toContain("entries: not counted");
    // No key was read anywhere near hotKeys.threshold (1 000) times: no hot keys are listed.
    expect((fleet.stats as unknown as { hotKeys: unknown[] }).hotKeys).toEqual([]);
    expect(text.stdout).not.toContain("hot keys");
  }, 60_000);

  it("warm replays the top queries with a progress bar, and another instance then reads them from Redis", async () => {
    await deleteEntries(redis, namespace);
    // What the CLI will replay (its own loads then update the fleet's load times, which may reorder the list).
    const top = await app.prisma.$cache.topQueries({ limit: 6 });
    const run = await cli(["warm", ...client, "--top", "6", "--concurrency", "2"], namespace);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^warmed 6 of 6 recorded queries in (\d\.\d ms|\d+ ms|\d+\.\d s); failed 0; skipped 0\n$/);
    const lines = run.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(/^warming \[█{30}\] 6\/6 {2}warmed 6 · failed 0 · skipped 0$/);
    expect(lines.length).toBeGreaterThan(1);
    const fresh = createCachedClient({ namespace, models: { User: true, Post: true } });
    try {
      for (const query of top) await runRecorded(fresh.prisma, query);
      expect(fresh.pool.queries, "every warmed query was in Redis").toBe(0);
      expect(fresh.prisma.$cache.stats().l2Hits).toBe(6);
    } finally {
      await fresh.close();
    }
  }, 60_000);

  it("flush invalidates one model's cached reads on every instance", async () => {
    // Post: no model's rows follow a post's by a referential action here (User's posts do follow
    // it, so flushing User also drops posts, as invalidate({ models }) does).
    const posts = queries[1]!;
    await runRecorded(app.prisma, posts);
    const before = app.pool.queries;
    const run = await cli(["flush", ...client, "--model", "Post"], namespace);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("invalidated every cached read of Post on every instance");
    await runRecorded(app.prisma, posts);
    expect(app.pool.queries - before, "the app's L1 entry was dropped").toBe(1);
    const user = queries[0]!;
    const afterPosts = app.pool.queries;
    await runRecorded(app.prisma, user);
    expect(app.pool.queries - afterPosts, "User entries were left alone").toBe(0);
  }, 60_000);

  it("flush without --model invalidates every model of the schema, also those only the application's instances cache (outside probe 111: a Tag cached by the app kept its old row)", async () => {
    // Recording no query statistics: its Tag read, ranked by a first load's time, would come ahead of the app's queries in the warm tests below (the CLI's client does not cache Tag).
    const tagCaching = createCachedClient({ namespace, models: { Tag: true }, queryStats: false });
    try {
      const tag = await tagCaching.base.tag.create({ data: { name: `flushed-${namespace}` } });
      const read = () => tagCaching.prisma.tag.findUnique({ where: { id: tag.id } });
      await read();
      // Written behind the cache's back, as what a flush is for.
      await tagCaching.base.tag.update({ where: { id: tag.id }, data: { name: `renamed-${namespace}` } });
      expect((await read())?.name, "cached before the flush").toBe(tag.name);
      const run = await cli(["flush", ...client, "--json"], namespace);
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).invalidated).toContain("Tag");
      expect((await read())?.name).toBe(`renamed-${namespace}`);
    } finally {
      await tagCaching.close();
    }
  }, 60_000);

  it("fails clearly when the module is missing, exports no extended client, or the command line is wrong", async () => {
    const missing = await cli(["warm", "--client", "./no/such/module"], namespace);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no module at .*no\/such\/module .*\[E_CLIENT_NOT_FOUND\]/);
    const notClient = await cli(["stats", "--client", "test/fixtures/not-a-client.ts"], namespace);
    expect(notClient.status).toBe(2);
    expect(notClient.stderr).toContain("none of its exports (answer, default) is a Prisma client extended with cacheExtension()");
    expect(notClient.stderr).toContain("[E_NOT_EXTENDED_CLIENT]");
    const wrongExport = await cli(["stats", ...client, "--export", "base"], namespace);
    expect(wrongExport.status).toBe(2);
    expect(wrongExport.stderr).toContain('its export "base" is not a Prisma client extended with cacheExtension()');
    const usage = await cli(["wram", ...client], namespace);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('unknown command "wram" (expected one of: warm, stats, top, flush) [E_USAGE]');
    const badNumber = await cli(["warm", ...client, "--top", "ten"], namespace);
    expect(badNumber.stderr).toContain('--top expects a positive integer, got "ten" [E_USAGE]');
    const help = await cli(["--help"], namespace);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: prisma-cache-shield <command> --client <module>");
    // No command at all is bad usage, as the help says: the usage goes to stderr and the status is 2.
    const nothing = await cli([], namespace);
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toContain("no command given (expected one of: warm, stats, top, flush) [E_USAGE]");
    expect(nothing.stderr).toContain("Usage: prisma-cache-shield <command> --client <module>");
    // A model the schema does not have is bad usage too (1 is for a command that failed).
    for (const command of ["flush", "top"]) {
      const unknownModel = await cli([command, ...client, "--model", "Nope"], namespace);
      expect(unknownModel.status, command).toBe(2);
      expect(unknownModel.stderr).toContain('no model named "Nope"');
      // Named as the option given, by both commands (outside probe 239: flush said `models`).
      expect(unknownModel.stderr).toContain("`model`");
      expect(unknownModel.stderr).toContain("[E_USAGE]");
      expect(unknownModel.stderr).toContain("Usage: prisma-cache-shield <command> --client <module>");
    }
  }, 90_000);

  it("warm gives up on replays a database that accepts connections never answers, and exits 1 (outside probe 175: it never exited)", async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const blackHoled = new URL(databaseUrl());
      blackHoled.port = String((silent.address() as net.AddressInfo).port);
      const run = await cli(["warm", ...client, "--quiet", "--top", "2", "--replay-timeout", "1000"], namespace, blackHoled.toString());
      expect(run.status, run.stderr).toBe(1);
      expect(run.stdout).toMatch(/^warmed 0 of 2 recorded queries .*; failed 2; skipped 0\n/);
      expect(run.stderr).toContain("E_WARM_TIMEOUT");
    } finally {
      silent.close();
    }
  }, 90_000);

  it("warm fails (status 1) when its replays fail, and says why: the database unreachable (found by outside probe 157: status 0)", async () => {
    const missing = new URL(databaseUrl());
    missing.pathname = "/pcs_no_such_database";
    const run = await cli(["warm", ...client, "--quiet", "--top", "3"], namespace, missing.toString());
    expect(run.status, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^warmed 0 of 3 recorded queries .*; failed 3; skipped 0\n/);
    expect(run.stderr).toMatch(/3 of 3 replays failed: 3 × .*pcs_no_such_database.* \[E_WARM_FAILED\]/);
    const json = await cli(["warm", ...client, "--json", "--top", "2"], namespace, missing.toString());
    expect(json.status).toBe(1);
    const result = JSON.parse(json.stdout) as { failed: number; failedBy: Record<string, number> };
    expect(result.failed).toBe(2);
    expect(Object.values(result.failedBy)).toEqual([2]);
  }, 90_000);

  it("fails (status 1) when Redis is unreachable: a flush that reached nobody, and stats, top and warm", async () => {
    const down = ["--client", "test/fixtures/cli-client-redis-down.ts"];
    const flush = await cli(["flush", ...down, "--model", "User"], namespace);
    expect(flush.status, flush.stderr).toBe(1);
    expect(flush.stderr).toContain("E_UNDELIVERED_INVALIDATIONS");
    expect(flush.stdout).not.toContain("invalidated");
    for (const command of ["stats", "top", "warm"]) {
      const run = await cli([command, ...down, ...(command === "warm" ? ["--quiet"] : [])], namespace);
      expect(run.status, `${command}: ${run.stderr}`).toBe(1);
      expect(run.stderr).toContain("Redis is unavailable");
      // Why, though the client module's onError swallows it (outside probe 175).
      expect(run.stderr).toMatch(/last failure: Redis \w+ failed: /);
    }
    // stats still prints what it has: this process's own counters (an outside probe: it printed nothing).
    const stats = await cli(["stats", ...down], namespace);
    expect(stats.stdout).toContain("the counters below are this process's own");
    // No instance published them (outside probe 175: "1 live instance published counters" beside that line).
    expect(stats.stdout).not.toContain("published counters");
    const json = await cli(["stats", ...down, "--json"], namespace);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ redisUnavailable: true, instances: 1 });
  }, 120_000);
});
