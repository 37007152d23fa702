import { describe, expect, it } from "vitest";
import { CacheError, CacheStoreError } from "../../src/errors.ts";
import { REPORT_WINDOW_MS, ReportThrottle } from "../../src/stats/report-throttle.ts";

describe("ReportThrottle", () => {
  it("reports one Redis failure once a window, then says how many of it were not reported", () => {
    let now = 0;
    const throttle = new ReportThrottle(() => now);
    const oom = () => new CacheStoreError("EVALSHA", "OOM command not allowed when used memory > 'maxmemory'.");
    expect(throttle.admit(oom())).toHaveLength(1);
    for (let i = 0; i < 4_525; i++) {
      now += 0.1;
      expect(throttle.admit(oom())).toEqual([]);
    }
    // Another failure is its own.
    expect(throttle.admit(new CacheStoreError("EVALSHA", "NOREPLICAS Not enough good replicas to write."))).toHaveLength(1);
    now = REPORT_WINDOW_MS + 1;
    const [summary, again] = throttle.admit(oom());
    expect(summary).toMatchObject({ code: "E_REPORTS_SUPPRESSED", message: expect.stringMatching(/^4525 more report\(s\) of "Redis EVALSHA failed: OOM/) });
    expect(again).toMatchObject({ code: "E_STORE" });
    // Nothing suppressed since: no summary.
    now += REPORT_WINDOW_MS;
    expect(throttle.admit(oom())).toHaveLength(1);
  });

  it("always reports errors other than Redis failures (each is a finding of its own)", () => {
    const throttle = new ReportThrottle(() => 0);
    for (let i = 0; i < 3; i++) expect(throttle.admit(new CacheError("E_CORRUPT_ENTRY", "cache entry k dropped: bad checksum"))).toHaveLength(1);
  });
});
