/** Whether a callback's answer is a promise (or any thenable): an async hook's rejection must be handled, or it crashes the process. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null | undefined)?.then === "function";
}
