import { describe, expect, it } from "vitest";
import { DistrustLedger } from "../../src/invalidation/distrust-ledger.ts";

describe("DistrustLedger", () => {
  it("a reply to a read sent before an invalidation never teaches the invalidated name", () => {
    const ledger = new DistrustLedger(100);
    const before = ledger.begin();
    ledger.drop(["t:User:id=[1]"]);
    expect(ledger.mayLearn("t:User:id=[1]", before)).toBe(false);
    expect(ledger.mayLearn("g:Post", before)).toBe(true);
    ledger.end(before);
    const after = ledger.begin();
    expect(ledger.mayLearn("t:User:id=[1]", after)).toBe(true);
    // Learnt again: no longer distrusted, even for a straggler.
    expect(ledger.mayLearn("t:User:id=[1]", before)).toBe(true);
    ledger.end(after);
  });

  it("after forgetAll, no reply to an earlier read teaches anything", () => {
    const ledger = new DistrustLedger(100);
    const before = ledger.begin();
    ledger.forgetAll();
    expect(ledger.mayLearn("g:User", before)).toBe(false);
    expect(ledger.mayLearn("g:User", ledger.begin())).toBe(true);
  });

  it("stays bounded without forgetting names a read in flight could contradict", () => {
    const ledger = new DistrustLedger(3);
    const inFlight = ledger.begin();
    ledger.drop(["a", "b"]);
    ledger.end(inFlight);
    const slow = ledger.begin();
    ledger.drop(["c", "d"]);
    // Pruned: a and b (no read in flight predates them); c and d are kept for the slow read.
    expect(ledger.mayLearn("a", inFlight)).toBe(true);
    expect(ledger.mayLearn("c", slow)).toBe(false);
    expect(ledger.mayLearn("d", slow)).toBe(false);
    ledger.end(slow);
  });
});
