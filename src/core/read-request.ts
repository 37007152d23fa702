import type { ReadPolicy } from "../options.js";
import type { ServedBy } from "./served-by.js";

/** One cached read: where it lives, what it depends on, how long it may be kept and how to load it. */
export interface ReadRequest {
  key: string;
  model: string;
  policy: ReadPolicy;
  /** Version names the result depends on (see invalidation/dependencies). */
  deps: readonly string[];
  /** Loads the value from the database. Its errors reach the caller and are never cached. */
  load: () => Promise<unknown>;
  /** Whether a loaded value means "not found" (cached for negativeTtl instead of ttl). */
  isNotFound: (value: unknown) => boolean;
  /**
   * Asked after each load, with the value loaded: why it must not be stored (the bypass reason
   * counted), or undefined — e.g. the query that ran depended on more than `deps`, whose versions
   * were captured before it. Absent means always stored.
   */
  whyNotStored?: (value: unknown) => string | undefined;
  /** A hot key: kept in every instance's L1 (even for models without L1) and replicated in Redis. */
  hot: boolean;
  /** Filled with how the read was served, when the caller asked (`withAccelerateInfo()`). */
  served?: ServedBy | undefined;
}

/** Why a read asks for a background refresh. */
export type RefreshReason = "stale" | "early";
