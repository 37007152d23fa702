import { UndeliveredInvalidationsError } from "../errors.js";
import type { Versions } from "../invalidation/versions.js";

/** How long close() and drain() keep trying to deliver queued invalidations, at least. */
export const DELIVERY_MIN_MS = 2_000;
const RETRY_EVERY_MS = 100;

/**
 * close()'s and drain()'s delivery: retries queued invalidations for max(2 s, 8 × redisTimeout)
 * and returns what could not be delivered (undefined when nothing is left). Never drops silently.
 */
export async function deliverQueued(versions: Versions, redisTimeoutMs: number, by: "close()" | "drain()"): Promise<UndeliveredInvalidationsError | undefined> {
  const deadline = performance.now() + Math.max(DELIVERY_MIN_MS, 8 * redisTimeoutMs);
  while (!(await versions.flush())) {
    if (performance.now() + RETRY_EVERY_MS >= deadline) return new UndeliveredInvalidationsError(versions.pendingNames(), by);
    await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY_MS));
  }
  return undefined;
}
