import { UndeliveredInvalidationsError } from "../errors.js";
import type { Versions } from "../invalidation/versions.js";

/** How long close() keeps trying to deliver queued invalidations, at least. */
export const CLOSE_DELIVERY_MIN_MS = 2_000;
const RETRY_EVERY_MS = 100;

/**
 * close()'s last delivery: retries queued invalidations for max(2 s, 8 × redisTimeout) and
 * returns what could not be delivered (undefined when nothing is left). Never drops silently.
 */
export async function closeDelivering(versions: Versions, redisTimeoutMs: number): Promise<UndeliveredInvalidationsError | undefined> {
  const deadline = performance.now() + Math.max(CLOSE_DELIVERY_MIN_MS, 8 * redisTimeoutMs);
  while (!(await versions.flush())) {
    if (performance.now() + RETRY_EVERY_MS >= deadline) return new UndeliveredInvalidationsError(versions.pendingNames());
    await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY_MS));
  }
  return undefined;
}
