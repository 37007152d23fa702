import { describe, expect, it } from "vitest";
import { CacheStoreError } from "../../src/errors.ts";
import type { RecordedQuery } from "../../src/stats/query-stats.ts";
import { warm, type WarmTarget } from "../../src/stats/warm.ts";

/** A warm() target whose statistics read fails `failures` times with a timeout, then answers. */
function target(failures: number, recorded: RecordedQuery[]) {
  const calls = { queries: 0, replayed: [] as string[] };
  const parts: WarmTarget = {
    fingerprint: "now",
    models: ["User"],
    operations: new Set(["findUnique"]),
    checkCacheOption: () => undefined,
    queries: async (limit) => {
      calls.queries++;
      if (calls.queries <= failures) throw new CacheStoreError("EVALSHA", "no answer within 250 ms");
      return recorded.slice(0, limit);
    },
    ready: async () => true,
    replay: async (query) => void calls.replayed.push(query.id),
    hooks: { beforeWarm: [], afterWarm: [] },
    clock: { now: () => Date.now() },
    report: () => {},
  };
  return { parts, calls };
}

const query = (id: string, fingerprint = "now"): RecordedQuery => ({ id, model: "User", operation: "findUnique", args: { where: { id } }, cache: undefined, fingerprint, score: 1, loadMs: 1, readable: true });

describe("warm()", () => {
  it("reads the statistics again when a read times out (a process starting under load), and gives up after three", async () => {
    const recorded = [query("a"), query("b")];
    const twice = target(2, recorded);
    expect(await warm(twice.parts, { top: 2 })).toMatchObject({ warmed: 2, skipped: 0, total: 2 });
    expect(twice.calls.queries).toBe(3);
    const always = target(3, recorded);
    expect(await warm(always.parts, { top: 2 })).toMatchObject({ warmed: 0, skippedBy: { "redis unavailable": 2 } });
    expect(always.calls.queries).toBe(3);
  });

  it("replays the `top` queries it can, skipping (and counting) those ranked above them", async () => {
    const recorded = [query("old-1", "before"), query("a"), query("old-2", "before"), query("b"), query("c"), query("old-3", "before")];
    const { parts, calls } = target(0, recorded);
    expect(await warm(parts, { top: 2 })).toMatchObject({ warmed: 2, skipped: 2, skippedBy: { "schema changed": 2 }, total: 4 });
    expect(calls.replayed.sort()).toEqual(["a", "b"]);
  });

  it("waits for its hooks before replaying, but not to say Redis is unreachable (outside probe 128: the Bloom guard's build held it 5 s)", async () => {
    const recorded = [query("a")];
    const events: string[] = [];
    let finishHook!: () => void;
    const slowHook = () => new Promise<void>((resolve) => (finishHook = () => (events.push("hook done"), resolve())));
    const down = target(3, recorded);
    down.parts.hooks.beforeWarm.push(slowHook);
    expect(await warm(down.parts, { top: 1 })).toMatchObject({ warmed: 0, skippedBy: { "redis unavailable": 1 } });
    expect(events).toEqual([]);
    finishHook();
    const up = target(0, recorded);
    up.parts.hooks.beforeWarm.push(slowHook);
    up.parts.replay = async () => void events.push("replayed");
    const warming = warm(up.parts, { top: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual(["hook done"]);
    finishHook();
    expect(await warming).toMatchObject({ warmed: 1 });
    expect(events).toEqual(["hook done", "hook done", "replayed"]);
  });

  it("counts an *OrThrow replay whose record is gone as warmed (its absence is cached), and other failures as failed with their reasons (outside probe 158)", async () => {
    const orThrow: RecordedQuery = { ...query("gone"), operation: "findUniqueOrThrow" };
    const { parts } = target(0, [orThrow, query("broken")]);
    parts.operations = new Set(["findUnique", "findUniqueOrThrow"]);
    parts.replay = async (recorded) => {
      if (recorded.id === "gone") throw Object.assign(new Error("No record was found for a query."), { code: "P2025" });
      throw Object.assign(new Error("\nInvalid `prisma.user.findUnique()` invocation:\n\nCan't reach database server"), { code: "P1001" });
    };
    expect(await warm(parts, { top: 2 })).toMatchObject({ warmed: 1, failed: 1, failedBy: { "P1001: Can't reach database server": 1 } });
  });
});
