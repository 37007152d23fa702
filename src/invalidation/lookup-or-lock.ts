/** The fleet lock a lookup takes in the same round trip if the entry cannot be served (see LOOKUP_OR_LOCK). */
export interface LockAttempt {
  lockKey: string;
  /** Where a failed attempt marks that it waits: the holder publishes its wake-up only if marked. */
  waitedKey: string;
  token: string;
  ttlMs: number;
  /** The token of a lock this process holds for the key ('' if none): failing on it is not marked. */
  ownToken: string;
  /** An entry is servable only if fresh until after this (epoch ms, the caller's clock) ... */
  freshAfter: number;
  /** ... and stale until after this. */
  staleAfter: number;
  /** Whether a failed attempt marks that it waits (false for a last look that will not wait). */
  mark: boolean;
}

/**
 * What LOOKUP_OR_LOCK did about the lock: the entry was servable (no attempt), or the lock was
 * taken, or it is held by this process (`ownToken`) or by another owner.
 */
export type LockStatus = "entry" | "taken" | "held-here" | "held-elsewhere";

/** A lookup's reply: the stored entry text, the current versions, a write-in-progress mark, and the lock attempt's result. */
export interface Lookup {
  stored: string | null;
  current: number[];
  dirty: boolean;
  /** With a lock attempt: what became of it (undefined when dirty: no attempt). */
  lock?: LockStatus | undefined;
}

const LOCK_STATUS: readonly LockStatus[] = ["entry", "taken", "held-here", "held-elsewhere"];

/**
 * Turns LOOKUP's keys and arguments (entry, sequence, lifetime, version keys; tag lifetime,
 * expiry flags) into LOOKUP_OR_LOCK's: the lock's keys and arguments go before the versions',
 * the names as JSON strings (to rebuild an entry's recorded versions as text) after them.
 */
export function lookupOrLockArgs(lock: LockAttempt, names: readonly string[], keys: string[], args: Array<string | number>): void {
  keys.splice(3, 0, lock.lockKey, lock.waitedKey);
  args.splice(1, 0, lock.token, lock.ttlMs, lock.ownToken, lock.freshAfter, lock.staleAfter, lock.mark ? "1" : "");
  for (const name of names) args.push(JSON.stringify(name));
}

export function lockStatusOf(code: unknown): LockStatus {
  const status = LOCK_STATUS[code as number];
  if (status === undefined) throw new Error(`LOOKUP_OR_LOCK answered an unknown status ${String(code)}`);
  return status;
}
