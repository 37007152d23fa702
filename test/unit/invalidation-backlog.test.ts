import { describe, expect, it } from "vitest";
import { REPLAY_LIMIT } from "../../src/invalidation/bump-batches.ts";
import { InvalidationBacklog } from "../../src/invalidation/invalidation-backlog.ts";
import { Counters } from "../../src/stats/counters.ts";

/** A backlog whose deliveries the test settles by hand: each send waits until the test answers it. */
function backlogWithManualDelivery() {
  const sends: Array<{ names: readonly string[]; confirming?: string; answer: (ok: boolean) => void }> = [];
  const counters = new Counters();
  const backlog = new InvalidationBacklog({
    counters,
    send: (names, confirming) => new Promise<boolean>((answer) => sends.push({ names, confirming, answer })),
    namespaceWide: () => EVERYTHING,
  });
  return { backlog, sends, counters };
}

const EVERYTHING = ["g:User", "r:User"];
const namesFrom = (first: number, count: number) => Array.from({ length: count }, (_, i) => `u:${first + i}`);

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("InvalidationBacklog", () => {
  it("a bump applied everywhere settles only the names queued before it was sent", async () => {
    const { backlog } = backlogWithManualDelivery();
    backlog.add(["t:User:id=[1]", "g:Post"], undefined);
    const sentAt = performance.now();
    await tick();
    // A write that committed after that bump was sent: its failed bump is not covered by it.
    backlog.add(["t:User:id=[1]"], undefined);
    backlog.delivered(["t:User:id=[1]", "g:Post"], sentAt);
    expect(backlog.names()).toEqual(["t:User:id=[1]"]);
    backlog.delivered(["t:User:id=[1]"], performance.now());
    expect(backlog.size).toBe(0);
  });

  it("a flush keeps what was queued while its bump was on the way", async () => {
    const { backlog, sends } = backlogWithManualDelivery();
    backlog.add(["a", "b"], undefined);
    const flushed = backlog.flush();
    expect(sends.map((send) => send.names)).toEqual([["a", "b"]]);
    await tick();
    backlog.add(["b"], undefined);
    sends[0]!.answer(true);
    expect(await flushed).toBe(true);
    expect(backlog.names()).toEqual(["b"]);
  });

  it("flushes one at a time: asks while one runs share the next, which sends only what the first left", async () => {
    const { backlog, sends } = backlogWithManualDelivery();
    backlog.add(["a", "b"], undefined);
    // The retry timer, a regained registration and close() may all ask at once.
    const flushes = [backlog.flush(), backlog.flush(), backlog.flush()];
    expect(flushes[1]).toBe(flushes[2]);
    await tick();
    expect(sends.map((send) => send.names)).toEqual([["a", "b"]]);
    backlog.add(["c"], undefined);
    sends[0]!.answer(true);
    await tick();
    expect(sends.map((send) => send.names)).toEqual([["a", "b"], ["c"]]);
    sends[1]!.answer(true);
    expect(await Promise.all(flushes)).toEqual([true, true, true]);
    expect(backlog.size).toBe(0);
  });

  it("a failed flush settles nothing, and waitDelivered times out while a name stays queued", async () => {
    const { backlog, sends } = backlogWithManualDelivery();
    backlog.add(["a"], undefined);
    const flushed = backlog.flush();
    sends[0]!.answer(false);
    expect(await flushed).toBe(false);
    expect(await backlog.waitDelivered(["a"], 30)).toBe(false);
    backlog.delivered(["a"], performance.now());
    expect(await backlog.waitDelivered(["a"], 30)).toBe(true);
  });

  it("a queued write's marks are removed even when another bump already settled its names", async () => {
    const { backlog, sends } = backlogWithManualDelivery();
    backlog.add(["t:User:id=[1]"], "write-1");
    await tick();
    // A later write's bump of the same name reached every instance: nothing is left to invalidate…
    backlog.delivered(["t:User:id=[1]"], performance.now());
    expect(backlog.size).toBe(0);
    // …but write 1's announcement marks still stand until its confirmation is sent (and close() would name them).
    expect(backlog.names()).toEqual(["t:User:id=[1]"]);
    const flushed = backlog.flush();
    expect(sends.map(({ names, confirming }) => ({ names, confirming }))).toEqual([{ names: ["t:User:id=[1]"], confirming: "write-1" }]);
    sends[0]!.answer(true);
    expect(await flushed).toBe(true);
    expect(backlog.names()).toEqual([]);
  });

  it("a confirmation Redis did not take stays queued and is sent again by the next flush", async () => {
    const { backlog, sends } = backlogWithManualDelivery();
    backlog.add(["a"], "write-1");
    const first = backlog.flush();
    sends[0]!.answer(true);
    await tick();
    expect(sends[1]).toMatchObject({ names: ["a"], confirming: "write-1" });
    sends[1]!.answer(false);
    expect(await first).toBe(false);
    const second = backlog.flush();
    expect(sends[2]).toMatchObject({ names: ["a"], confirming: "write-1" });
    sends[2]!.answer(true);
    expect(await second).toBe(true);
    // Nothing left: a further flush sends nothing.
    expect(await backlog.flush()).toBe(true);
    expect(sends).toHaveLength(3);
  });

  it("replays a backlog of up to REPLAY_LIMIT names name by name", async () => {
    const { backlog, sends } = backlogWithManualDelivery();
    backlog.add(namesFrom(0, REPLAY_LIMIT), undefined);
    expect(backlog.size).toBe(REPLAY_LIMIT);
    const flushed = backlog.flush();
    expect(sends[0]!.names).toHaveLength(REPLAY_LIMIT);
    sends[0]!.answer(true);
    expect(await flushed).toBe(true);
    expect(backlog.size).toBe(0);
  });

  it("collapses once it grows past REPLAY_LIMIT names: every name counts as queued, none is held, one namespace-wide bump delivers it (outside probe 288)", async () => {
    const { backlog, sends, counters } = backlogWithManualDelivery();
    for (let i = 0; i < 50; i++) backlog.add(namesFrom(i * 1_000, 1_000), undefined);
    expect(backlog.size).toBe(50_000);
    // What close() would report: the namespace-wide names, not 50 000 of them.
    expect(backlog.names()).toEqual(EVERYTHING);
    expect(backlog.has("t:Post:id=[7]")).toBe(true);
    expect(backlog.hasAny(["t:Post:id=[7]"])).toBe(true);
    const failed = backlog.flush();
    expect(sends.map((send) => send.names)).toEqual([EVERYTHING]);
    sends[0]!.answer(false);
    expect(await failed).toBe(false);
    expect(backlog.size).toBe(50_000);
    const flushed = backlog.flush();
    sends[1]!.answer(true);
    expect(await flushed).toBe(true);
    expect(counters.invalidationBacklogsCollapsed).toBe(1);
    expect(backlog.size).toBe(0);
    expect(backlog.hasAny(["t:Post:id=[7]"])).toBe(false);
    // Not collapsed any more: names are held one by one again.
    backlog.add(["u:after"], undefined);
    expect(backlog.names()).toEqual(["u:after"]);
  });

  it("a collapsed backlog stays collapsed when a name was queued while its bump was on the way", async () => {
    const { backlog, sends } = backlogWithManualDelivery();
    backlog.add(namesFrom(0, REPLAY_LIMIT + 1), undefined);
    const flushed = backlog.flush();
    await tick();
    backlog.add(["u:late"], undefined);
    sends[0]!.answer(true);
    expect(await flushed).toBe(false);
    expect(backlog.has("u:late")).toBe(true);
    const again = backlog.flush();
    expect(sends[1]!.names).toEqual(EVERYTHING);
    sends[1]!.answer(true);
    expect(await again).toBe(true);
    expect(backlog.size).toBe(0);
  });

  it("a flush whose names were on the way when the backlog collapsed does not report it delivered (outside probe 290: drain() resolved with 11 000 names queued)", async () => {
    const { backlog, sends } = backlogWithManualDelivery();
    backlog.add(["a", "b"], undefined);
    const flushed = backlog.flush();
    await tick();
    backlog.add(namesFrom(0, REPLAY_LIMIT + 1), undefined);
    sends[0]!.answer(true);
    expect(await flushed).toBe(false);
    expect(backlog.size).toBe(REPLAY_LIMIT + 3);
  });

  it("counts a collapse once when delivered, however many namespace-wide bumps it took (outside probe 290 counted one twice)", async () => {
    const { backlog, sends, counters } = backlogWithManualDelivery();
    backlog.add(namesFrom(0, REPLAY_LIMIT + 1), undefined);
    const first = backlog.flush();
    await tick();
    backlog.add(["u:late"], undefined);
    sends[0]!.answer(true);
    expect(await first).toBe(false);
    expect(counters.invalidationBacklogsCollapsed).toBe(0);
    const second = backlog.flush();
    sends[1]!.answer(true);
    expect(await second).toBe(true);
    expect(counters.invalidationBacklogsCollapsed).toBe(1);
  });
});
