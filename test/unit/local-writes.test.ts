import { describe, expect, it } from "vitest";
import { LocalWrites } from "../../src/invalidation/local-writes.ts";

/** Whether `promise` has settled after the microtasks queued now have run. */
async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe("LocalWrites: the writes a read of this process waits for", () => {
  it("names no write when none announced a name the read depends on", () => {
    const writes = new LocalWrites();
    expect(writes.finished(["t:User:id=[1]"])).toBeUndefined();
    const end = writes.begin(["g:User", "t:User:id=[2]"]);
    expect(writes.finished(["r:User", "t:User:id=[1]"])).toBeUndefined();
    end();
    expect(writes.finished(["g:User"]), "a finished write is forgotten").toBeUndefined();
  });

  it("settles once every write in flight on any of the names has finished, not before", async () => {
    const writes = new LocalWrites();
    const first = writes.begin(["g:User", "t:User:id=[1]"]);
    const second = writes.begin(["g:User", "t:User:id=[2]"]);
    const both = writes.finished(["g:User"])!;
    const onlyFirst = writes.finished(["r:User", "t:User:id=[1]"])!;
    expect(await settledYet(both)).toBe(false);
    first();
    expect(await settledYet(onlyFirst)).toBe(true);
    expect(await settledYet(both), "the second write is still in flight").toBe(false);
    // A write that starts after the wait began is not part of it.
    const third = writes.begin(["g:User"]);
    second();
    expect(await settledYet(both)).toBe(true);
    expect(writes.finished(["g:User"]), "the third write is").toBeDefined();
    third();
    expect(writes.finished(["g:User"])).toBeUndefined();
  });

  it("a write counts once however often it names a name, and ending it twice changes nothing", async () => {
    const writes = new LocalWrites();
    const end = writes.begin(["g:Post", "g:Post", "t:Post:id=[7]"]);
    const waiting = writes.finished(["g:Post", "t:Post:id=[7]"])!;
    end();
    end();
    expect(await settledYet(waiting)).toBe(true);
    expect(writes.finished(["g:Post", "t:Post:id=[7]"])).toBeUndefined();
  });

  it("lets a read wait four times the longest recent write, halving every 0.5 s; nothing before a write finished", () => {
    let now = 1_000;
    const writes = new LocalWrites(() => now);
    const end = writes.begin(["g:User"]);
    expect(writes.waitLimitMs(), "no write finished yet: a cold first write may take long").toBeUndefined();
    now += 10;
    end();
    expect(writes.waitLimitMs()).toBe(40);
    now += 500;
    expect(writes.waitLimitMs()).toBeCloseTo(20);
    const slow = writes.begin(["g:User"]);
    now += 5;
    slow();
    expect(writes.waitLimitMs(), "a shorter write does not shorten what is remembered").toBeCloseTo(20, 0);
  });
});
