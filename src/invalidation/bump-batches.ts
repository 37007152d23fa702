/** The most names one bump script call carries: Redis and the JS engine take any count in bounded steps. */
export const NAMES_PER_BUMP = 1_000;

/**
 * A backlog longer than this is not replayed name by name: it collapses into a bump of every
 * model's generations, which invalidates every entry of the namespace (each entry depends on
 * its model's generation or record generation) in a few script calls (see InvalidationBacklog).
 */
export const REPLAY_LIMIT = 10_000;

/** `names` in consecutive slices of at most `size`, in order. */
export function batchesOf<T>(names: readonly T[], size = NAMES_PER_BUMP): T[][] {
  const batches: T[][] = [];
  for (let start = 0; start < names.length; start += size) batches.push(names.slice(start, start + size));
  return batches;
}
