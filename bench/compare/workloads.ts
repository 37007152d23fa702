// The four workloads of bench:compare and the row layout they share. Every system owns its own
// block of rows with identical contents (so a write by one system can never leave another
// system's cache stale: that would be a write the other system cannot see, not a bug of it).
import { seededRandom } from "../../test/helpers/random.ts";
import type { Operation } from "./load.ts";
import { zipfSampler } from "../lib/zipf.ts";

export type WorkloadId = "zipf" | "mix" | "herd" | "absent";

export const WORKLOAD_LABELS: Record<WorkloadId, string> = {
  zipf: "zipf 95/5",
  mix: "30 % writes",
  herd: "cold-key herd",
  absent: "absent keys",
};

export const WORKLOAD_DESCRIPTIONS: Record<WorkloadId, string> = {
  zipf: "zipf(1.1) over 10 000 rows, 95 % `findUnique` by id / 5 % `update` (version + 1), 64 concurrent, one process",
  mix: "the same distribution with 30 % writes",
  herd: "4 processes × 250 concurrent `findUnique` of one cold row, released at the same millisecond (1 000 reads per round)",
  absent:
    "5 000 `findUnique` of ids that do not exist (1 000 distinct ids, uniform, fresh ones every round), 64 concurrent. prisma-cache-shield runs with `bloom: true` on Post, as its README advises for models exposed to enumeration, so it answers these from its Bloom filter; the peer caches the `null` results",
};

/** Rows the zipf workloads draw from, per system. */
export const HOT_ROWS = 10_000;
/** Cold rows for the herd, per system (one per round). */
export const HERD_ROWS = 100;
export const ROWS_PER_SYSTEM = HOT_ROWS + HERD_ROWS;
export const CONCURRENCY = 64;
export const HERD_PROCESSES = 4;
export const HERD_READS_PER_PROCESS = 250;
export const ABSENT_LOOKUPS = 5_000;
export const ABSENT_DISTINCT = 1_000;
const ZIPF_S = 1.1;

/** The first post id of a system's block (ids are 1-based, blocks seeded in system order). */
export function firstRow(systemIndex: number): number {
  return systemIndex * ROWS_PER_SYSTEM + 1;
}

/** The cold row of a herd round. */
export function herdRow(systemIndex: number, round: number): number {
  return firstRow(systemIndex) + HOT_ROWS + round;
}

/** Operations of a zipf workload: rank r maps to the r-th row of the system's block. */
export function zipfOperations(systemIndex: number, writeShare: number, seed: number): () => Operation {
  const random = seededRandom(seed);
  const rank = zipfSampler(HOT_ROWS, ZIPF_S, random);
  const first = firstRow(systemIndex);
  return () => ({ kind: random() < writeShare ? "write" : "read", id: first + rank() });
}

/** Lookups of ids that never existed; a fresh range per system and round, so every round starts cold. */
export function absentOperations(systemIndex: number, round: number, seed: number): () => Operation {
  const random = seededRandom(seed);
  const first = 1_000_000 + systemIndex * 100_000 + round * ABSENT_DISTINCT;
  return () => ({ kind: "read", id: first + Math.floor(random() * ABSENT_DISTINCT), expectAbsent: true });
}
