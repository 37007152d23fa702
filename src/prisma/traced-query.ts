import { tracing, type TraceContext } from "../stats/telemetry.js";
import type { LazyQuery } from "./lazy-query.js";

/** Runs a query inside a tracing channel's span; callers check `hasSubscribers` first so untraced queries pay nothing. */
export function tracedQuery(channel: typeof tracing.read, namespace: string, query: LazyQuery, run: () => Promise<unknown>): Promise<unknown> {
  const context: TraceContext = { namespace, model: query.$model, operation: query.$operation, args: query.$args };
  return channel.tracePromise(run, context);
}
