import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import type { CacheError } from "../../src/index.ts";
import { ServerIdentity, type ServerIdentityHooks } from "../../src/stores/server-identity.ts";

/**
 * When a failed verification of the server is reported. A start on a busy machine often misses
 * `redisTimeout` once and verifies on the retry 200 ms later: outside probes 142 and 144 saw 3–4
 * reports per process start, at every deploy. (test/integration/stalled-start.test.ts: a retry that
 * fails too, on a frozen redis-server, is reported once.)
 */
describe("ServerIdentity's reports of failed verifications", () => {
  /** A verified connection whose `run_id` query fails `failures` times first. */
  function identityFailing(failures: number) {
    const source = Object.assign(new EventEmitter(), { status: "ready" });
    const reports: CacheError[] = [];
    let failing = failures;
    let verified = 0;
    const hooks: ServerIdentityHooks = {
      runId: async () => {
        if (failing-- > 0) throw new Error("Redis INFO failed: no answer within 250 ms");
        return "0123abcd";
      },
      fencedOn: async () => ({ runId: "0123abcd", sequenced: true }),
      record: async () => {},
      fence: async () => {},
      verified: () => void verified++,
      report: (error) => void reports.push(error),
    };
    const identity = new ServerIdentity(source, hooks);
    return { identity, reports, source, verifiedTimes: () => verified, failNext: (times: number) => void (failing = times) };
  }

  const settle = async (identity: ServerIdentity) => {
    for (let waited = 0; !identity.verified && waited < 3_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  };

  it("one failure whose retry verifies is not reported", async () => {
    const { identity, reports, verifiedTimes } = identityFailing(1);
    await settle(identity);
    identity.stop();
    expect(verifiedTimes()).toBe(1);
    expect(reports).toEqual([]);
  });

  it("a retry that fails too is reported, once per connection however long it goes on", async () => {
    const { identity, reports, verifiedTimes } = identityFailing(5);
    await settle(identity);
    identity.stop();
    expect(verifiedTimes()).toBe(1);
    expect(reports.map((error) => error.message)).toEqual([expect.stringContaining("could not verify which Redis server this is")]);
  });

  it("a new connection's first failure after a verified one is not reported either; its second is", async () => {
    const { identity, reports, source, verifiedTimes, failNext } = identityFailing(0);
    await settle(identity);
    for (const [failures, reported] of [[1, 0], [2, 1]] as const) {
      // The connection drops and comes back; its verification misses `failures` times.
      failNext(failures);
      source.emit("close");
      expect(identity.verified).toBe(false);
      source.emit("ready");
      await settle(identity);
      expect(reports).toHaveLength(reported);
    }
    identity.stop();
    expect(verifiedTimes()).toBe(3);
  });
});

/**
 * A call refused `READONLY`: the server became a replica, perhaps of an older copy. Nothing is
 * served until it takes writes again, then the namespace is fenced once (outside probe 203: each
 * verification retry, 200 ms apart, tried the fence and reported the rollback again).
 */
describe("ServerIdentity after a READONLY refusal", () => {
  function identityOn(runId: { current: string }) {
    const source = Object.assign(new EventEmitter(), { status: "ready" });
    const fences: string[] = [];
    // Verifications left before the server takes writes again: the fence's own scripts are refused meanwhile.
    let refusingWrites = 0;
    const refused = () => new Error("READONLY You can't write against a read only replica.");
    const hooks: ServerIdentityHooks = {
      runId: async () => runId.current,
      fencedOn: async () => ({ runId: runId.current, sequenced: true }),
      record: async () => {},
      takesWrites: async () => {
        if (refusingWrites-- > 0) throw refused();
      },
      fence: async (_runId, reason) => {
        fences.push(reason);
        if (refusingWrites >= 0) throw refused();
      },
      verified: () => {},
      report: () => {},
    };
    const identity = new ServerIdentity(source, hooks);
    return { identity, source, fences, refuseWrites: (times: number) => void (refusingWrites = times) };
  }
  const verified = async (identity: ServerIdentity) => {
    for (let waited = 0; !identity.verified && waited < 3_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    return identity.verified;
  };

  it("is fenced once, as a server that was a replica, when it takes writes again", async () => {
    const { identity, fences, refuseWrites } = identityOn({ current: "aaaa" });
    expect(await verified(identity)).toBe(true);
    refuseWrites(3);
    identity.refusedAsReplica();
    expect(identity.verified).toBe(false);
    expect(await verified(identity)).toBe(true);
    identity.stop();
    expect(fences).toEqual(["replica"]);
    expect(identity.verified).toBe(true);
  });

  it("is fenced as a server change when the connection meanwhile reached another server (a Sentinel failover)", async () => {
    const runId = { current: "aaaa" };
    const { identity, source, fences } = identityOn(runId);
    expect(await verified(identity)).toBe(true);
    identity.refusedAsReplica();
    source.emit("close");
    runId.current = "bbbb";
    source.emit("ready");
    expect(await verified(identity)).toBe(true);
    identity.stop();
    expect(fences).toEqual(["changed"]);
  });
});
