import type { CliArgs } from "./args.js";
import { callName, count, describeArgs, describeQuery, duration, millis, percent, table } from "./format.js";
import type { TopQuery } from "../prisma/stats-control.js";
import { MAX_RECORDED_QUERIES } from "../option-limits.js";
import type { WarmResult } from "../stats/warm.js";
import type { ExtendedClient } from "./load-client.js";
import { ProgressBar, type ProgressStream } from "./progress-bar.js";

export interface CliIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
  /** The last Redis failure the client's cache reported, if any: why a command found Redis unavailable. */
  lastRedisFailure?: () => string | undefined;
}

type CommandFn = (client: ExtendedClient, args: CliArgs, io: CliIo) => Promise<number>;

/** Hot queries shown per model by `stats`. */
const HOT_PER_MODEL = 2;

const print = (io: CliIo, text: string) => io.stdout.write(`${text}\n`);

export const warm: CommandFn = async (client, args, io) => {
  const bar = args.quiet || args.json ? undefined : new ProgressBar(io.stderr);
  const result = await client.$cache.warm({ top: args.top, concurrency: args.concurrency, replayTimeout: args.replayTimeout, ...(bar === undefined ? {} : { onProgress: (progress) => bar.update(progress) }) });
  bar?.finish();
  if (args.json) {
    print(io, JSON.stringify(result));
    return (result.skippedBy[REDIS_UNAVAILABLE] ?? 0) > 0 ? redisUnavailable(io) : replaysFailed(io, result);
  }
  // Nothing could be read: no count of recorded queries to report.
  if ((result.skippedBy[REDIS_UNAVAILABLE] ?? 0) > 0) return redisUnavailable(io);
  const skipped = Object.entries(result.skippedBy).map(([reason, n]) => `${reason} ${n}`);
  print(io, `warmed ${result.warmed} of ${result.total} recorded queries in ${duration(result.durationMs)}; failed ${result.failed}; skipped ${result.skipped}${skipped.length > 0 ? ` (${skipped.join(", ")})` : ""}`);
  if (result.total === 0) print(io, "no recorded queries yet: statistics fill as the application serves reads (every read is counted; flushed every queryStats.flushInterval)");
  return replaysFailed(io, result);
};

/** Status 1 when a replay failed (the database unreachable, a query it refuses): a deploy script must not read it as warmed. */
function replaysFailed(io: CliIo, result: WarmResult): number {
  if (result.failed === 0) return 0;
  const reasons = Object.entries(result.failedBy).map(([reason, n]) => `${n} × ${reason}`);
  io.stderr.write(`prisma-cache-shield: ${result.failed} of ${result.total} replays failed: ${reasons.join("; ")} [E_WARM_FAILED]\n`);
  return 1;
}

/** topQueries(), or undefined when Redis could not be read (it rejects with the Redis error, code E_STORE). */
async function recordedQueries(client: ExtendedClient, options: { limit: number; model?: string }): Promise<TopQuery[] | undefined> {
  try {
    return await client.$cache.topQueries(options);
  } catch (error) {
    // By code, not instanceof: the client module may load another copy of this package.
    if ((error as { code?: unknown } | null)?.code === "E_STORE") return undefined;
    throw error;
  }
}

const REDIS_UNAVAILABLE = "redis unavailable";

/** A command that needs Redis and could not reach it has failed: status 1, whatever it printed. */
function redisUnavailable(io: CliIo): number {
  // Its last failure, as the client's onError got it (outside probe 175: a client module without onError told the operator nothing).
  const failure = io.lastRedisFailure?.();
  io.stderr.write(`prisma-cache-shield: Redis is unavailable (${failure === undefined ? "the errors went to the client's onError" : `last failure: ${failure}`}) [E_REDIS_UNAVAILABLE]\n`);
  return 1;
}

export const stats: CommandFn = async (client, args, io) => {
  const [fleet, recorded] = await Promise.all([client.$cache.fleetStats({ countEntries: true }), recordedQueries(client, { limit: 200 })]);
  // Whatever could be read is printed; a command that could not read everything still fails.
  const unavailable = fleet.redisUnavailable === true || recorded === undefined;
  const hot = new Map<string, TopQuery[]>();
  for (const query of recorded ?? []) {
    const list = hot.get(query.model) ?? [];
    if (list.length < HOT_PER_MODEL) hot.set(query.model, [...list, query]);
  }
  if (args.json) {
    const hotQueries = Object.fromEntries([...hot].map(([model, list]) => [model, list.map(({ operation, args: queryArgs, score, loadMs }) => ({ operation, args: queryArgs, score, loadMs }))]));
    print(io, JSON.stringify({ ...fleet, ...(unavailable ? { redisUnavailable: true } : {}), hotQueries }, (_key, value: unknown) => (typeof value === "bigint" ? `${value}` : value)));
    return unavailable ? redisUnavailable(io) : 0;
  }
  if (fleet.redisUnavailable) {
    print(io, "Redis is unavailable: the counters below are this process's own, not the fleet's");
  } else if (recorded === undefined) {
    print(io, "Redis is unavailable for the recorded queries: no hot queries below");
  }
  const s = fleet.stats;
  // With Redis unavailable the counters are this process's own: no instance published anything (outside probe 175).
  if (!fleet.redisUnavailable) print(io, `namespace ${fleet.namespace}: ${fleet.instances} live instance${fleet.instances === 1 ? "" : "s"} published counters`);
  const models = [...new Set([...fleet.cachedModels, ...Object.keys(s?.models ?? {}), ...Object.keys(fleet.entries ?? {})])].sort();
  const rows = models.map((model) => {
    const m = s?.models[model];
    const lookups = (m?.hits ?? 0) + (m?.misses ?? 0);
    const hotText = (hot.get(model) ?? []).map((query) => `${callName(query.model, query.operation)} ${describeArgs(query.args, 40)}`).join("; ");
    return [model, lookups === 0 ? "–" : percent((m?.hits ?? 0) / lookups), count(m?.hits ?? 0), count(m?.misses ?? 0), count(fleet.entries?.[model]), hotText];
  });
  if (s !== undefined) rows.push(["all", percent(s.hitRate), count(s.hits), count(s.misses), count(Object.values(fleet.entries ?? {}).reduce((sum, n) => sum + n, 0)), ""]);
  print(io, table(["model", "hit rate", "hits", "misses", "entries", "hot queries"], rows, new Set([0, 5])));
  // SCAN walks one node: entries are not counted on a Cluster (outside probe 248: a bare "–", unexplained).
  if (fleet.entries === undefined && !fleet.redisUnavailable) print(io, "entries: not counted (a Redis Cluster, where SCAN walks one node, or a client without SCAN)");
  if (s === undefined) {
    print(io, "no instance published counters yet (they publish every queryStats.flushInterval)");
    return unavailable ? redisUnavailable(io) : 0;
  }
  const bypasses = Object.entries(s.bypasses).map(([reason, n]) => `${reason} ${count(n)}`);
  const hotKeys = (s.hotKeys ?? []).slice(0, 10);
  if (hotKeys.length > 0) {
    print(io, "");
    print(io, "hot keys (reads in the current window, estimated, summed over instances):");
    print(io, table(["model", "query", "args", "reads"], hotKeys.map(({ key, estimate }) => [...describeKey(key), `~${count(Math.round(estimate))}`]), new Set([0, 1, 2])));
  }
  print(io, "");
  print(io, `tiers: L1 hits ${count(s.l1Hits)} · L2 hits ${count(s.l2Hits)} · negative hits ${count(s.negativeHits)} · DB loads ${count(s.dbLoads)}`);
  print(io, `herd: coalesced ${count(s.coalesced)} · lock waits ${count(s.lockWaits)} (${millis(s.lockWaitMs)}) · stale serves ${count(s.staleServes)} · refreshes ${count(s.backgroundRefreshes)} stale / ${count(s.earlyRefreshes)} early / ${count(s.refreshFailures)} failed`);
  print(io, `invalidations: sent ${count(s.invalidationsSent)} · received ${count(s.invalidationsReceived)} · unacknowledged ${count(s.invalidationAckTimeouts)} · queued ${count(s.invalidationsQueued)}`);
  print(io, `failures: reads' Redis errors ${count(s.redisErrors)} · timeouts ${count(s.redisTimeouts)}${bypasses.length > 0 ? ` · bypasses: ${bypasses.join(", ")}` : ""}`);
  return unavailable ? redisUnavailable(io) : 0;
};

/** A cache key `<namespace>:<fingerprint>:<model>:<operation>:<args>` as model, call and arguments (`#…` when hashed). */
function describeKey(key: string): [string, string, string] {
  const parts = key.split(":");
  if (parts.length < 5) return ["?", "?", key];
  const args = parts.slice(4).join(":");
  return [parts[2]!, callName(parts[2]!, parts[3]!), args.length <= 60 ? args : `${args.slice(0, 59)}…`];
}

export const top: CommandFn = async (client, args, io) => {
  const limit = args.limit ?? 20;
  // Every recorded query (a bounded top-K), so a share is of them all, not of the rows printed
  // (outside probe 239: `--limit 1` said 100 %).
  const recorded = await recordedQueries(client, { limit: MAX_RECORDED_QUERIES, ...(args.model === undefined ? {} : { model: args.model }) });
  if (recorded === undefined) return redisUnavailable(io);
  const queries = recorded.slice(0, limit);
  if (args.json) {
    print(io, JSON.stringify(queries, (_key, value: unknown) => (typeof value === "bigint" ? `${value}` : value)));
    return 0;
  }
  if (queries.length === 0) {
    print(io, "no recorded queries yet: statistics fill as the application serves reads (every read is counted; flushed every queryStats.flushInterval)");
    return 0;
  }
  const total = recorded.reduce((sum, query) => sum + query.score, 0);
  const rows = queries.map((query, i) => [
    String(i + 1),
    percent(total === 0 ? 0 : query.score / total),
    query.readable ? callName(query.model, query.operation) : "?",
    query.readable ? describeQuery(query.args, query.cache) : "(unreadable)",
    millis(query.loadMs),
    query.skipReason ?? "ready",
  ]);
  print(io, table(["#", "share", "query", "args", "load", "warm()"], rows, new Set([2, 3, 5])));
  return 0;
};

export const flush: CommandFn = async (client, args, io) => {
  // Every model of the schema: the application's instances may cache models this client does not (outside probe 111).
  const models = args.model === undefined ? (await client.$cache.fleetStats()).schemaModels : [args.model];
  // One model as `model`, so a misspelt one is reported as the option `top --model` reports (outside probe 239).
  await client.$cache.invalidate(args.model === undefined ? { models } : { model: args.model });
  // invalidate() queues what Redis did not take; close() delivers it or rejects (E_UNDELIVERED_INVALIDATIONS): a flush that reached nobody failed.
  await client.$cache.close();
  if (args.json) print(io, JSON.stringify({ invalidated: models }));
  else print(io, `invalidated every cached read of ${models.join(", ")} on every instance (entries stay in Redis until their TTL, never served)`);
  return 0;
};
