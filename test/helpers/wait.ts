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
