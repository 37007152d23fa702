/** The live heap in bytes: collected first, so garbage not yet collected does not count (vitest.config.ts passes --expose-gc). */
export function liveHeapBytes(): number {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error("run with --expose-gc (vitest.config.ts sets it)");
  collect();
  return process.memoryUsage().heapUsed;
}
