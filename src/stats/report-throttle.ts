import { CacheError } from "../errors.js";

/** How long after a Redis failure is reported the same failure is only counted. */
export const REPORT_WINDOW_MS = 1_000;
/** Distinct failures remembered at once; when more arrive the memory starts over (each is then reported again). */
const MAX_REMEMBERED = 1_000;

/**
 * Keeps a Redis that refuses every command alike (out of memory, `NOREPLICAS`) from flooding
 * `onError`: an outside probe counted 4 526 identical `OOM command not allowed` reports in 8 s
 * from one reader. A Redis failure (`E_STORE`) with the same message as one reported less than
 * REPORT_WINDOW_MS ago is not reported again; the next report of it after the window is preceded by
 * an `E_REPORTS_SUPPRESSED` error that says how many were not. The read path's failures are still
 * all counted (`stats().redisErrors`, `redisTimeouts`); other errors are always reported.
 */
export class ReportThrottle {
  readonly #now: () => number;
  readonly #recent = new Map<string, { reportedAt: number; suppressed: number }>();

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** The errors to report for `error`: none, itself, or a summary of those suppressed before it and itself. */
  admit(error: CacheError): CacheError[] {
    if (error.code !== "E_STORE") return [error];
    const now = this.#now();
    const recent = this.#recent.get(error.message);
    if (recent !== undefined && now - recent.reportedAt < REPORT_WINDOW_MS) {
      recent.suppressed++;
      return [];
    }
    if (this.#recent.size >= MAX_REMEMBERED) this.#recent.clear();
    this.#recent.set(error.message, { reportedAt: now, suppressed: 0 });
    if (recent === undefined || recent.suppressed === 0) return [error];
    const summary = new CacheError("E_REPORTS_SUPPRESSED", `${recent.suppressed} more report(s) of "${error.message}" in the ${Math.round(now - recent.reportedAt)} ms after it were not sent to onError (counted in stats())`);
    return [summary, error];
  }
}
