import type { Clock, ModelStats } from "../types.js";
import type { LowHitRateEvent } from "./events.js";

/** Resolved `lowHitRateAlert` options. */
export interface LowHitRateSettings {
  /** Hit rate, 0 to 1, below which the alert fires. */
  threshold: number;
  windowMs: number;
  /** Fewest reads of a model within the window for its rate to count. */
  minRequests: number;
}

interface Sample {
  at: number;
  models: Record<string, ModelStats>;
}

/** Checks per window; often enough that an alert fires within a tenth of a window of the cause. */
const CHECKS_PER_WINDOW = 10;
const MIN_CHECK_INTERVAL_MS = 50;

/**
 * Watches each model's hit rate over a sliding window and emits `firing` when it falls below the
 * threshold, `cleared` when it is back at or above it. It reads the cumulative per-model counters
 * on a timer and differences them, so the read path does nothing for it. A window with fewer than
 * `minRequests` reads of a model changes nothing about that model's alert.
 */
export class LowHitRateAlert {
  readonly #settings: LowHitRateSettings;
  readonly #read: () => Record<string, ModelStats>;
  readonly #clock: Clock;
  readonly #emit: (event: LowHitRateEvent) => void;
  /** Samples within the window plus the newest one older than it (the baseline). Bounded by CHECKS_PER_WINDOW + 2. */
  #samples: Sample[] = [];
  readonly #firing = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: LowHitRateSettings, read: () => Record<string, ModelStats>, clock: Clock, emit: (event: LowHitRateEvent) => void) {
    this.#settings = settings;
    this.#read = read;
    this.#clock = clock;
    this.#emit = emit;
  }

  start(): void {
    this.check();
    this.#timer = setInterval(() => this.check(), Math.max(MIN_CHECK_INTERVAL_MS, this.#settings.windowMs / CHECKS_PER_WINDOW));
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Counters were reset: differences against older samples would be negative. */
  reset(): void {
    this.#samples = [];
    this.check();
  }

  check(): void {
    const { windowMs, threshold, minRequests } = this.#settings;
    const now = this.#clock.now();
    const models = this.#read();
    this.#samples.push({ at: now, models });
    while (this.#samples.length > 1 && this.#samples[1]!.at <= now - windowMs) this.#samples.shift();
    const baseline = this.#samples[0]!.models;
    for (const [model, totals] of Object.entries(models)) {
      const hits = totals.hits - (baseline[model]?.hits ?? 0);
      const requests = hits + totals.misses - (baseline[model]?.misses ?? 0);
      if (requests < minRequests) continue;
      const hitRate = hits / requests;
      const firing = this.#firing.has(model);
      if ((hitRate < threshold) === firing) continue;
      if (firing) this.#firing.delete(model);
      else this.#firing.add(model);
      this.#emit({ type: "alert", alert: "lowHitRate", state: firing ? "cleared" : "firing", model, hitRate, threshold, requests, windowMs });
    }
  }
}
