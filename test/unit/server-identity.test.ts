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
