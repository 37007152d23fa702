/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC, through process.hrtime): one
 * clock for every process on the machine, which no wall-clock step or slew moves. Multi-process
 * tests compare when a write resolved in one process with when a read started in another; on
 * `Date.now()` or `timeOrigin + performance.now()` (each process's wall clock at its start) a
 * clock adjusted between two processes' starts shifts one against the other by the adjustment.
 */
export function machineNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
