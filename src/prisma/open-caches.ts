/**
 * Caches with a Redis subscription open in this process. Each one (each `$extends(cacheExtension(…))`)
 * holds a subscriber connection, an instance registration that every write of the fleet waits
 * for, timers and its own L1: a client extended per request and never closed leaks all of them
 * (an outside probe: 1 000 requests, 1 002 connections, 1.9 GB of heap). Warned once.
 */
const MANY_OPEN_CACHES = 32;
let open = 0;
let warned = false;

/** Counts one more open cache; the function returned counts it closed (once, however often it is called). */
export function cacheOpened(): () => void {
  open++;
  if (open >= MANY_OPEN_CACHES && !warned) {
    warned = true;
    process.emitWarning(
      `${open} caches with a Redis subscription are open in this process: each $extends(cacheExtension(…)) opens a subscriber connection and registers an instance every write waits for. Extend a client once and reuse it (not per request or per tenant: one client can serve every tenant with a \`scope\` function), and close() caches you stop using.`,
      { code: "PCS_MANY_INSTANCES", type: "PrismaCacheShieldWarning" },
    );
  }
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    open--;
  };
}
