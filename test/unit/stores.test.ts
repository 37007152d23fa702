import { describe, expect, it } from "vitest";
import { CorruptEntry, depsAreCurrent, parseEntry, serializeEntry } from "../../src/stores/entry.ts";
import { clonePlan } from "../../src/codec/clone-plan.ts";
import { MemoryStore } from "../../src/stores/memory-store.ts";
import { SingleFlight, UnsharedLoad } from "../../src/core/single-flight.ts";
import { FakeClock } from "../helpers/random.ts";
import { sentinelOverrides } from "../../src/stores/command-connection.ts";
import type { RedisLike } from "../../src/types.ts";
import { namingDeniedCommand } from "../../src/stores/redis-store.ts";
import * as redisScripts from "../../src/stores/redis-scripts.ts";
import * as statsScripts from "../../src/stats/stats-scripts.ts";

const { BUMP_VERSIONS } = redisScripts;
const { RECORD_QUERIES } = statsScripts;

describe("entry format", () => {
  it("round-trips, with pipes and newlines in names and payload", () => {
    const entry = { payload: '{"a":"x|y\\nz"}\n', freshUntil: 10, staleUntil: 20, loadMs: 3, deps: [["t:User:email=[\"a|b\\n\"]", 7] as const, ["g:Post", 0] as const] };
    expect(parseEntry(serializeEntry(entry))).toEqual(entry);
  });

  it("treats text of another format, truncated or altered entries as corrupt", () => {
    for (const text of ["1|1|2|3|x", "garbage", "2|a|2|3|[]\nx", "2|1|2|3|{oops\nx", "3|0|1|2|3|[]\nx", ""]) {
      expect(parseEntry(text), text).toBeInstanceOf(CorruptEntry);
    }
    const valid = serializeEntry({ payload: '{"id":1,"name":"Ada"}', freshUntil: 10, staleUntil: 20, loadMs: 3, deps: [["g:User", 7]] });
    expect(parseEntry(valid.slice(0, -3))).toEqual(new CorruptEntry("checksum mismatch"));
    expect(parseEntry(valid.replace('"g:User",7', '"g:User",8'))).toEqual(new CorruptEntry("checksum mismatch"));
  });

  it("is current only at exactly the recorded versions of the same names", () => {
    const deps = [["g:User", 3], ["g:Post", 5]] as const;
    expect(depsAreCurrent(deps, ["g:User", "g:Post"], [3, 5])).toBe(true);
    expect(depsAreCurrent(deps, ["g:User", "g:Post"], [3, 6])).toBe(false);
    expect(depsAreCurrent(deps, ["g:User", "g:Tag"], [3, 5])).toBe(false);
    expect(depsAreCurrent(deps, ["g:User"], [3])).toBe(false);
  });
});

describe("MemoryStore", () => {
  const entry = (staleUntil: number) => ({ value: { a: 1 }, copy: clonePlan({ a: 1 }), freshUntil: staleUntil, staleUntil, negative: false, loadMs: 0, deps: [] });

  it("expires entries on the injected clock, bounded by maxTtl", () => {
    const clock = new FakeClock();
    const store = new MemoryStore({ maxEntries: 10, maxBytes: 10_000, maxTtlMs: 1_000 }, clock);
    store.set("short", entry(clock.now() + 500));
    store.set("long", entry(clock.now() + 60_000));
    clock.advance(499);
    expect(store.get("short")).toBeDefined();
    clock.advance(1);
    expect(store.get("short")).toBeUndefined();
    expect(store.get("long")).toBeDefined();
    clock.advance(500);
    expect(store.get("long")).toBeUndefined();
  });

  it("is bounded by entries and by bytes, evicting the least recently used", () => {
    const clock = new FakeClock();
    const byCount = new MemoryStore({ maxEntries: 2, maxBytes: 1_000_000, maxTtlMs: 60_000 }, clock);
    byCount.set("a", entry(clock.now() + 1e6));
    byCount.set("b", entry(clock.now() + 1e6));
    byCount.get("a");
    byCount.set("c", entry(clock.now() + 1e6));
    expect([byCount.get("a"), byCount.get("b"), byCount.get("c")].map(Boolean)).toEqual([true, false, true]);

    const byBytes = new MemoryStore({ maxEntries: 1_000, maxBytes: 2_000, maxTtlMs: 60_000 }, clock);
    const sized = (staleUntil: number) => ({ ...entry(staleUntil), value: { text: "x".repeat(400) } });
    for (let i = 0; i < 20; i++) byBytes.set(`k${i}`, sized(clock.now() + 1e6));
    expect(byBytes.bytes).toBeLessThanOrEqual(2_000);
    expect(byBytes.size).toBeLessThan(20);
    expect(byBytes.get("k19")).toBeDefined();
  });
});

describe("SingleFlight", () => {
  it("shares one running load among concurrent callers and forgets it when done", async () => {
    const flights = new SingleFlight<number>();
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return 7;
    };
    const results = await Promise.all(Array.from({ length: 100 }, () => flights.run("k", load)));
    expect(loads).toBe(1);
    expect(results.filter((r) => r.shared)).toHaveLength(99);
    expect(results.every((r) => r.value === 7)).toBe(true);
    expect(flights.size).toBe(0);
    await flights.run("k", load);
    expect(loads).toBe(2);
  });

  it("fails the caller whose load failed; those that joined it retry once, together, and get the error only if the retry fails too; nothing is kept", async () => {
    const flights = new SingleFlight<number>();
    let attempts = 0;
    const failingOnce = async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (++attempts === 1) throw new Error("statement timeout");
      return 7;
    };
    const once = await Promise.allSettled(Array.from({ length: 8 }, () => flights.run("k", failingOnce)));
    expect(once.map((r) => r.status)).toEqual(["rejected", ...Array(7).fill("fulfilled")]);
    expect(attempts, "one retry shared by the seven that joined").toBe(2);
    let down = 0;
    const failing = async () => {
      down++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new Error("db down");
    };
    const always = await Promise.allSettled(Array.from({ length: 8 }, () => flights.run("k", failing)));
    expect(always.map((r) => r.status)).toEqual(Array(8).fill("rejected"));
    expect(down, "a lasting failure costs one more query, not one per caller").toBe(2);
    expect(flights.size).toBe(0);
    expect((await flights.run("k", async () => 1)).value).toBe(1);
  });

  it("never hands a caller that joined an UnsharedLoad's value: each such caller's own load answers it, its starter gets the error", async () => {
    const flights = new SingleFlight<string>();
    // Every load of callers 0 and 1 (and of whoever starts a flight while they run) is for its own caller only.
    const ownOnly = (caller: number) => async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (caller < 2) throw new UnsharedLoad(`value of ${caller}`, "scope changed while read");
      return `shared by ${caller}`;
    };
    const settled = await Promise.allSettled([0, 1, 2, 3].map((caller) => flights.run("k", ownOnly(caller))));
    expect(settled[0]).toMatchObject({ status: "rejected", reason: { value: "value of 0" } });
    // Caller 1 joined 0's flight: it ran its own load, which was unshared too, so it gets its own value as the error.
    expect(settled[1]).toMatchObject({ status: "rejected", reason: { value: "value of 1" } });
    for (const result of settled.slice(2)) expect(result.status === "fulfilled" ? result.value.value : result.reason).toMatch(/^shared by [23]$/);
    expect(flights.size).toBe(0);
  });
});

describe("the cache's connections behind Sentinel", () => {
  const behindSentinel = (options: object) => ({ options: { sentinels: [{ host: "127.0.0.1", port: 26379 }], name: "primary", ...options } }) as unknown as RedisLike;

  it("follow failovers, reconnect to the sentinels within a second, and ask the next sentinel when one does not answer", () => {
    const overrides = sentinelOverrides(behindSentinel({})) as { failoverDetector: boolean; sentinelReconnectStrategy: () => number; sentinelCommandTimeout: number };
    expect(overrides.failoverDetector).toBe(true);
    expect(overrides.sentinelReconnectStrategy()).toBe(1_000);
    expect(overrides.sentinelCommandTimeout).toBe(1_000);
    // The application's own sentinel timeout is kept.
    expect((sentinelOverrides(behindSentinel({ sentinelCommandTimeout: 300 })) as { sentinelCommandTimeout: number }).sentinelCommandTimeout).toBe(300);
    // A single server or a Cluster: nothing to add.
    expect(sentinelOverrides({ options: { host: "127.0.0.1" } } as unknown as RedisLike)).toEqual({});
  });
});

describe("a command an ACL denies inside a script", () => {
  const denied = (script: { sha: string; source: string }, line: number) =>
    new Error(`ERR The user executing the script can't run this command or subcommand script: ${script.sha}, on @user_script:${line}.`);
  const lineOf = (source: string, text: string) => source.split("\n").findIndex((line) => line.includes(text)) + 1;

  it("is named from the script's line Redis gives (outside probe 219: only a hash and a line number)", () => {
    const line = lineOf(BUMP_VERSIONS.source, "redis.call('PUBLISH'");
    expect(line).toBeGreaterThan(0);
    expect((namingDeniedCommand(denied(BUMP_VERSIONS, line), BUMP_VERSIONS) as Error).message).toContain("the ACL denies PUBLISH:");
  });

  it("a line calling a command through a helper of the script lists the script's commands (outside probe 222: HSET in the statistics' flush)", () => {
    const line = lineOf(RECORD_QUERIES.source, "redis.call(command");
    const message = (namingDeniedCommand(denied(RECORD_QUERIES, line), RECORD_QUERIES) as Error).message;
    expect(message).toMatch(/the ACL denies one of [A-Z, ]*\bHSET\b/);
    expect(message).toMatch(/\bHDEL\b/);
  });

  it("leaves other errors as they are", () => {
    expect((namingDeniedCommand(new Error("OOM command not allowed"), BUMP_VERSIONS) as Error).message).toBe("OOM command not allowed");
  });
});

describe("the Lua scripts", () => {
  const scripts = Object.entries({ ...redisScripts, ...statsScripts }).filter(
    (entry): entry is [string, { source: string; sha: string }] => typeof entry[1] === "object" && entry[1] !== null && "source" in entry[1],
  );

  it("define Redis's clock before reading it, and keep a #!lua line first (Redis reads flags only there)", () => {
    expect(scripts.length).toBeGreaterThan(20);
    const clockReaders = scripts.filter(([, { source }]) => source.includes("serverTime()"));
    expect(clockReaders.length).toBeGreaterThan(10);
    for (const [name, { source }] of clockReaders) {
      const defined = source.indexOf("local function serverTime()");
      expect(defined, name).toBeGreaterThanOrEqual(0);
      expect(source.search(/(?<!function )serverTime\(\)/), `${name} calls it after defining it`).toBeGreaterThan(defined);
      expect(source.lastIndexOf("local function serverTime()"), `${name} defines it once`).toBe(defined);
    }
    for (const [name, { source }] of scripts) {
      if (source.includes("#!lua")) expect(source.startsWith("#!lua"), name).toBe(true);
      expect(source.match(/redis\.call\('TIME'\)/g)?.length ?? 0, `${name} reads TIME only through serverTime`).toBeLessThanOrEqual(1);
    }
  });
});
