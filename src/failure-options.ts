import { CacheConfigError, shownValue } from "./errors.js";
import { MAX_TIMER_MS } from "./option-limits.js";
import type { CircuitBreakerSettings } from "./stores/circuit-breaker.js";

/** What a write does when Redis cannot take its announcement: run anyway (a counted risk), or be refused. */
export type RedisDownWrites = "proceed" | "refuse";

export const FAILURE_DEFAULTS = {
  breakerThreshold: 5,
  breakerProbeInterval: 500,
  onRedisDownWrites: "proceed",
  redisDownWriteWait: 5_000,
} as const;

export function redisDownWriteWait(value: unknown): number {
  if (value === undefined) return FAILURE_DEFAULTS.redisDownWriteWait;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new CacheConfigError("redisDownWriteWait", `expected a non-negative number of milliseconds, at most ${MAX_TIMER_MS} (Node's longest timer), got ${shownValue(value)}`);
  }
  return value;
}

/** `circuitBreaker`: `false`, or `{ threshold, probeInterval }` (a count of failures, milliseconds). */
export function circuitBreakerSettings(value: unknown): CircuitBreakerSettings | undefined {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))) {
    throw new CacheConfigError("circuitBreaker", "expected false or { threshold, probeInterval }");
  }
  const own = (value ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(own)) {
    if (key !== "threshold" && key !== "probeInterval") throw new CacheConfigError(`circuitBreaker.${key}`, "unknown option (expected threshold or probeInterval)");
  }
  // `null` is refused, as by every other option (it was taken as "not set": outside probe 239).
  const threshold = own.threshold === undefined ? FAILURE_DEFAULTS.breakerThreshold : own.threshold;
  if (typeof threshold !== "number" || !Number.isSafeInteger(threshold) || threshold < 1) {
    throw new CacheConfigError("circuitBreaker.threshold", `expected a positive integer, got ${shownValue(threshold)}`);
  }
  const probeInterval = own.probeInterval === undefined ? FAILURE_DEFAULTS.breakerProbeInterval : own.probeInterval;
  // Above Node's longest timer, setTimeout fires after 1 ms: a probe every millisecond.
  if (typeof probeInterval !== "number" || !Number.isFinite(probeInterval) || probeInterval < 1 || probeInterval > MAX_TIMER_MS) {
    throw new CacheConfigError("circuitBreaker.probeInterval", `expected a number of milliseconds from 1 to ${MAX_TIMER_MS} (Node's longest timer), got ${shownValue(probeInterval)}`);
  }
  return { threshold, probeIntervalMs: probeInterval };
}

export function redisDownWrites(value: unknown): RedisDownWrites {
  if (value === undefined) return FAILURE_DEFAULTS.onRedisDownWrites;
  if (value !== "proceed" && value !== "refuse") throw new CacheConfigError("onRedisDownWrites", `expected "proceed" or "refuse", got ${shownValue(value)}`);
  return value;
}
