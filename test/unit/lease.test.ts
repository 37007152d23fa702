import { describe, expect, it } from "vitest";
import { CacheConfigError } from "../../src/errors.ts";
import { L1Lease, waitUntilLapsed } from "../../src/invalidation/lease.ts";
import { expiryOf, LandingWaiters } from "../../src/core/landing-waiters.ts";
import { settleWithin } from "../../src/core/settle-within.ts";
import { WaitBound } from "../../src/core/wait-bound.ts";
import { resolveOptions } from "../../src/options.ts";
import type { CacheExtensionOptions } from "../../src/types.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A PING whose replies the test hands out by hand. */
function manualPing() {
  const pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  return {
    pending,
    ping: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
  };
}

describe("L1Lease", () => {
  it("is held only once a heartbeat was answered, and for ttl from when that heartbeat was sent", async () => {
    const { pending, ping } = manualPing();
    const lease = new L1Lease({ ttlMs: 1_000, heartbeatMs: 10_000 }, ping, () => {});
    expect(lease.holds()).toBe(false);
    lease.start();
    expect(pending).toHaveLength(1);
    await sleep(60);
    pending[0]!.resolve();
    await sleep(0);
    // Sent at least 60 ms ago: at most 940 ms left, not 1 000.
    expect(lease.holds()).toBe(true);
    expect(lease.remainingMs()).toBeLessThanOrEqual(941);
    await sleep(1_000);
    expect(lease.holds()).toBe(false);
    lease.stop();
  });

  it("sends one heartbeat at a time: an unanswered PING blocks the next", async () => {
    const { pending, ping } = manualPing();
    const lease = new L1Lease({ ttlMs: 100, heartbeatMs: 10 }, ping, () => {});
    lease.start();
    await sleep(60);
    expect(pending).toHaveLength(1);
    pending[0]!.resolve();
    await sleep(40);
    expect(pending.length).toBeGreaterThanOrEqual(2);
    lease.stop();
  });

  it("a reply to a PING sent before stop() renews nothing", async () => {
    const { pending, ping } = manualPing();
    const lease = new L1Lease({ ttlMs: 10_000, heartbeatMs: 10_000 }, ping, () => {});
    lease.start();
    lease.stop();
    pending[0]!.resolve();
    await sleep(0);
    expect(lease.holds()).toBe(false);
  });

  it("a failed heartbeat is reported once per outage and the lease lapses", async () => {
    const { pending, ping } = manualPing();
    const reports: string[] = [];
    const lease = new L1Lease({ ttlMs: 1_000, heartbeatMs: 10 }, ping, (error) => reports.push(error.message));
    lease.start();
    pending[0]!.resolve();
    await sleep(0);
    expect(lease.holds()).toBe(true);
    for (let i = 0; i < 5; i++) {
      await sleep(15);
      for (const p of pending.splice(0)) p.reject(new Error("connection is closed"));
    }
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(/lease heartbeat failed/);
    await sleep(1_000);
    expect(lease.holds()).toBe(false);
    lease.stop();
  });

  it("hears Redis unless a heartbeat went unanswered for longer than the lease, or the subscription is down", async () => {
    const { pending, ping } = manualPing();
    const lease = new L1Lease({ ttlMs: 200, heartbeatMs: 10_000 }, ping, () => {});
    expect(lease.hearing()).toBe(true); // being set up: the first heartbeat is not answered yet
    lease.start();
    expect(lease.holds()).toBe(false);
    expect(lease.hearing()).toBe(true);
    await sleep(250);
    expect(lease.hearing()).toBe(false); // a heartbeat unanswered for longer than the lease: Redis is silent
    pending[0]!.resolve();
    await sleep(0);
    // Answered: Redis speaks again, though a lease renewed from that old PING has already lapsed.
    expect(lease.hearing()).toBe(true);
    expect(lease.holds()).toBe(false);
    lease.stop();
    expect(lease.hearing()).toBe(false);
  });

  it("heartbeats that fail one after another are silence once the first failed beat is older than the lease (a Cluster heartbeat that never arrives)", async () => {
    const { pending, ping } = manualPing();
    const lease = new L1Lease({ ttlMs: 200, heartbeatMs: 50 }, ping, () => {});
    lease.start();
    pending.shift()!.resolve();
    await sleep(0);
    expect(lease.holds()).toBe(true);
    // From now on every heartbeat fails at once: each failure lets the next one go, yet none answers.
    const failing = setInterval(() => pending.splice(0).forEach((p) => p.reject(new Error("did not arrive"))), 5);
    await sleep(120);
    expect(lease.hearing()).toBe(true);
    await sleep(250);
    expect(lease.hearing()).toBe(false);
    expect(lease.holds()).toBe(false);
    clearInterval(failing);
    await sleep(60);
    pending.splice(0).forEach((p) => p.resolve());
    await sleep(0);
    expect(lease.hearing()).toBe(true);
    expect(lease.holds()).toBe(true);
    lease.stop();
  });

  it("waitUntilLapsed resolves no earlier than `since + ms`", async () => {
    const since = performance.now();
    await waitUntilLapsed(since, 40);
    expect(performance.now() - since).toBeGreaterThanOrEqual(40);
  });
});

describe("lease options", () => {
  const optionAtFault = (lease: unknown) => {
    try {
      resolveOptions({ models: { User: true }, lease } as CacheExtensionOptions);
    } catch (error) {
      expect(error).toBeInstanceOf(CacheConfigError);
      return (error as CacheConfigError).option;
    }
    return undefined;
  };

  it("defaults to a 1 s lease renewed every 250 ms; a custom ttl gets a heartbeat of a quarter of it", () => {
    expect(resolveOptions({ models: { User: true } }).lease).toEqual({ ttlMs: 1_000, heartbeatMs: 250 });
    expect(resolveOptions({ models: { User: true }, lease: { ttl: 4_000 } }).lease).toEqual({ ttlMs: 4_000, heartbeatMs: 1_000 });
    expect(resolveOptions({ models: { User: true }, closeTimeout: 0 }).closeTimeoutMs).toBe(0);
  });

  it("rejects leases out of range and heartbeats longer than half the lease", () => {
    expect(optionAtFault(5)).toBe("lease");
    expect(optionAtFault({ ttl: 10 })).toBe("lease.ttl");
    expect(optionAtFault({ ttl: 120_000 })).toBe("lease.ttl");
    expect(optionAtFault({ ttl: 1.5 })).toBe("lease.ttl");
    expect(optionAtFault({ ttl: 1_000, heartbeat: 600 })).toBe("lease.heartbeat");
    expect(optionAtFault({ heartbeat: 5 })).toBe("lease.heartbeat");
    expect(optionAtFault({ ttl: 1_000, beat: 100 })).toBe("lease.beat");
    expect(optionAtFault({ ttl: 1_000, heartbeat: 500 })).toBeUndefined();
  });
});

describe("bounded waits", () => {
  it("a lock waiter's bound follows the model's recent loads (halving every 0.5 s), capped by lockTtl", () => {
    let now = 0;
    const bound = new WaitBound(5_000, 250, () => now);
    expect(bound.of("User")).toBe(5_000); // no load timed yet
    bound.observe("User", 20);
    expect(bound.of("User")).toBe(500 + 80);
    bound.observe("User", 2); // many fast loads at once do not make it forget the slow one
    bound.observe("User", 2);
    expect(bound.of("User")).toBe(500 + 80);
    now += 500;
    expect(bound.of("User")).toBe(500 + 4 * 10); // halved after 0.5 s
    now += 5_000;
    bound.observe("User", 3);
    expect(bound.of("User")).toBe(500 + 12); // long forgotten: the latest load
    bound.observe("User", 10_000);
    expect(bound.of("User")).toBe(5_000);
  });

  it("a slow hold (lock taken to value landed) widens the bound beyond its fast loads: twice the hold", () => {
    let now = 0;
    const bound = new WaitBound(5_000, 250, () => now);
    bound.observeHold("User", 300); // a hold alone, before any load: still nothing known
    expect(bound.of("User")).toBe(5_000);
    bound.observe("User", 1);
    expect(bound.of("User")).toBe(500 + 600); // 2 × 300 > 4 × 1
    bound.observeHold("Post", 900); // per model
    expect(bound.of("User")).toBe(500 + 600);
    now += 1_000;
    expect(bound.of("User")).toBe(500 + 150); // quartered after 1 s, like a load
    bound.observe("User", 100);
    expect(bound.of("User")).toBe(500 + 400); // the loads' 4 × 100 is now the longer
  });

  it("a wait whose bound grows while it waits (slower loads finished meanwhile) goes on; a fixed one does not", async () => {
    const waiters = new LandingWaiters();
    let boundMs = 30;
    const begun = performance.now();
    const growing = waiters.register("grows");
    const woken = growing.wait(() => begun + boundMs - performance.now());
    setTimeout(() => (boundMs = 300), 10); // a slow load of the model finished: the bound is now 300 ms
    setTimeout(() => waiters.wake("grows", true), 120); // past the first bound, within the second
    expect(await woken).toBe("landed");
    const fixed = waiters.register("fixed");
    setTimeout(() => waiters.wake("fixed", true), 120);
    expect(await fixed.wait(30)).toBe("timeout");
    const expiry = expiryOf(() => begun - performance.now());
    expect(await expiry.promise).toBe("timeout"); // already past: at once
  });

  it("a waiter woken before it waits still sees the wake-up; one that stops hearing Redis gives up", async () => {
    const waiters = new LandingWaiters();
    const early = waiters.register("k");
    waiters.wake("k", true);
    expect(await early.wait(1_000)).toBe("landed");
    const deaf = waiters.register("k");
    expect(await deaf.wait(10_000, () => false)).toBe("unheard");
    expect(await waiters.register("k").wait(20)).toBe("timeout");
    expect(waiters.size).toBe(0);
  });

  it("a resubscription wakes every waiter to look again, as such, not as a landing (a landing's wake-up uses up one of a read's attempts)", async () => {
    const waiters = new LandingWaiters();
    const waiting = waiters.register("a").wait(1_000);
    const early = waiters.register("b");
    waiters.wakeAll();
    expect(await waiting).toBe("resubscribed");
    expect(await early.wait(1_000)).toBe("resubscribed");
    expect(waiters.size).toBe(0);
  });

  it("settleWithin says whether a promise settled in time", async () => {
    expect(await settleWithin(sleep(5), 1_000)).toBe(true);
    expect(await settleWithin(Promise.reject(new Error("x")), 1_000)).toBe(true);
    expect(await settleWithin(new Promise(() => {}), 20)).toBe(false);
  });
});
