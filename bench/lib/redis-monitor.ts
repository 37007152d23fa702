// Counting Redis commands per cache namespace with MONITOR, from a child process
// (bench/redis-monitor-worker.ts) so the measured process does not parse the feed itself.
//
// MONITOR sees every client of the server, so counts are exact for the namespaces of the run even
// when other programs share the Redis; it does cost the server a little per command (it formats
// each one for the monitor connection), which shows in latencies measured while it runs.
//
// A snapshot is synchronous with the feed: the parent sends an ECHO with a unique marker on its
// own connection and the worker answers when that marker comes through MONITOR, so every command
// Redis executed before the ECHO has been counted.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";

/** Counts for one namespace since the monitor started. */
export interface NamespaceCounts {
  /** Commands sent by clients, by name; EVALSHA/EVAL by script name ("EVALSHA LOOKUP"). */
  commands: Record<string, number>;
  /** Sum of `commands`. */
  total: number;
  /** Commands run inside Lua scripts (not round trips; listed by MONITOR with source "lua"). */
  lua: number;
  /** The same, by name. */
  luaCommands: Record<string, number>;
  /** EVALSHA LOOKUP calls: the read path's one-round-trip lookups. */
  lookups: number;
  /** LOOKUP calls by entry key (only when the monitor was started with perKey). */
  lookupsByKey: Record<string, number>;
}

export type MonitorCommand = { type: "stop" };
export type MonitorMessage =
  | { type: "ready" }
  | { type: "mark"; mark: string; counts: Record<string, NamespaceCounts>; unattributed: number };

export interface MonitorSnapshot {
  counts: Record<string, NamespaceCounts>;
  /** Commands that named the run's prefix but no namespace (should be 0). */
  unattributed: number;
}

export interface RedisMonitor {
  /** All counts so far (cumulative); waits until the feed has caught up with this moment. */
  snapshot(): Promise<MonitorSnapshot>;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WORKER = fileURLToPath(new URL("../redis-monitor-worker.ts", import.meta.url));
const TIMEOUT_MS = 20_000;

/**
 * Starts counting the commands of every namespace that starts with `prefix`. `redis` is a
 * connection of the caller's (used to send the markers); `url` is where the monitor connects.
 */
export async function startRedisMonitor(redis: Redis, url: string, prefix: string, { perKey = false } = {}): Promise<RedisMonitor> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", WORKER], {
    cwd: ROOT,
    env: { ...process.env, MONITOR_REDIS_URL: url, MONITOR_PREFIX: prefix, MONITOR_PER_KEY: perKey ? "1" : "0" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting = new Map<string, (snapshot: MonitorSnapshot) => void>();
  let onReady: (() => void) | undefined;
  let failed: ((error: Error) => void) | undefined;
  child.on("message", (message: MonitorMessage) => {
    if (message.type === "ready") onReady?.();
    else waiting.get(message.mark)?.({ counts: message.counts, unattributed: message.unattributed });
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("exit", (code, signal) => failed?.(new Error(`redis monitor exited with ${code ?? signal}`)));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      onReady = resolve;
      failed = reject;
    }),
    "start",
  );
  let marks = 0;
  return {
    snapshot: async () => {
      const mark = `pcs-monitor-mark:${process.pid}:${++marks}`;
      const answered = new Promise<MonitorSnapshot>((resolve, reject) => {
        waiting.set(mark, resolve);
        failed = reject;
      });
      await redis.echo(mark);
      try {
        return await withTimeout(answered, "snapshot");
      } finally {
        waiting.delete(mark);
      }
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      failed = undefined;
      child.send({ type: "stop" } satisfies MonitorCommand);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Command counts accumulated between two snapshots, for one namespace. */
export function countsBetween(before: MonitorSnapshot, after: MonitorSnapshot, namespace: string): NamespaceCounts {
  const empty: NamespaceCounts = { commands: {}, total: 0, lua: 0, luaCommands: {}, lookups: 0, lookupsByKey: {} };
  const a = before.counts[namespace] ?? empty;
  const b = after.counts[namespace] ?? empty;
  const diff = (x: Record<string, number>, y: Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(y)) {
      const d = value - (x[key] ?? 0);
      if (d !== 0) out[key] = d;
    }
    return out;
  };
  return {
    commands: diff(a.commands, b.commands),
    total: b.total - a.total,
    lua: b.lua - a.lua,
    luaCommands: diff(a.luaCommands, b.luaCommands),
    lookups: b.lookups - a.lookups,
    lookupsByKey: diff(a.lookupsByKey, b.lookupsByKey),
  };
}

/** "LOOKUP 3, SET 2, …", most frequent first. */
export function describeCommands(commands: Record<string, number>): string {
  const entries = Object.entries(commands).sort((x, y) => y[1] - x[1]);
  if (entries.length === 0) return "none";
  return entries.map(([name, count]) => `${name.replace(/^EVALSHA /, "")} ${count.toLocaleString("en-US")}`).join(", ");
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`redis monitor: no ${what} within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS))),
  ]).finally(() => clearTimeout(timer));
}
