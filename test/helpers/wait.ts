// Waiting in tests: conditions are polled with generous deadlines, never asserted on wall-clock time.

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition` holds; throws after `timeoutMs` (a loaded machine gets a wide margin). */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000, stepMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(stepMs);
  }
}

/** Reads until a read is answered from the instance's L1 (its stats count one more L1 hit). */
export async function untilServedFromL1(l1Hits: () => number, read: () => Promise<unknown>, timeoutMs = 10_000): Promise<void> {
  await until(async () => {
    const before = l1Hits();
    await read();
    return l1Hits() > before;
  }, timeoutMs);
}
