// Counts the Redis commands of one benchmark run with MONITOR, in a process of its own so that
// parsing the feed does not steal the measured process's event loop. Started (and stopped) by
// bench/lib/redis-monitor.ts; not meant to run alone.
//
// Every command is attributed to the cache namespace that appears in one of its arguments (entry
// keys `<ns>:…`, version and Bloom keys `{<ns>}:…`, hot-key replicas `{r<n>:<hash>}<ns>:…`), for
// namespaces starting with MONITOR_PREFIX; others are ignored. MONITOR also lists the commands a
// Lua script runs (source "lua"): those are counted apart, so "commands" means round trips the
// clients sent. EVALSHA is reported by script name (LOOKUP, FENCED_SET, …).
import { Redis } from "ioredis";
import * as statsScripts from "../src/stats/stats-scripts.ts";
import * as scripts from "../src/stores/redis-scripts.ts";
import type { MonitorCommand, MonitorMessage, NamespaceCounts } from "./lib/redis-monitor.ts";

const url = process.env.MONITOR_REDIS_URL ?? "";
const prefix = process.env.MONITOR_PREFIX ?? "";
const perKey = process.env.MONITOR_PER_KEY === "1";
if (process.send === undefined || url === "" || prefix === "") throw new Error("redis-monitor-worker: start it from bench/lib/redis-monitor.ts");
const send = (message: MonitorMessage) => process.send!(message);
process.on("disconnect", () => process.exit(0));

const scriptNames = new Map<string, string>();
for (const [name, value] of [...Object.entries(scripts), ...Object.entries(statsScripts)]) {
  if (typeof value === "object" && value !== null && "sha" in value) scriptNames.set((value as { sha: string }).sha, name);
}
const lookupSha = scripts.LOOKUP.sha;

// A namespace is [A-Za-z0-9_.-]+ and is followed by ":" (entry keys) or "}" (hash-tagged keys).
const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const namespacePattern = new RegExp(`(${escaped}[A-Za-z0-9_.-]*)[:}]`);

const counts = new Map<string, NamespaceCounts>();
let unattributed = 0;

function countsOf(namespace: string): NamespaceCounts {
  let entry = counts.get(namespace);
  if (entry === undefined) counts.set(namespace, (entry = { commands: {}, total: 0, lua: 0, luaCommands: {}, lookups: 0, lookupsByKey: {} }));
  return entry;
}

function onCommand(args: string[], source: string): void {
  const command = (args[0] ?? "").toUpperCase();
  if (command === "ECHO" && args[1]?.startsWith("pcs-monitor-mark:")) {
    send({ type: "mark", mark: args[1], counts: Object.fromEntries(counts), unattributed });
    return;
  }
  let namespace: string | undefined;
  for (let i = 1; i < args.length && namespace === undefined; i++) namespace = namespacePattern.exec(args[i]!)?.[1];
  if (namespace === undefined) {
    if (source !== "lua" && args.some((arg) => arg.includes(prefix))) unattributed++;
    return;
  }
  const entry = countsOf(namespace);
  if (source === "lua") {
    entry.lua++;
    entry.luaCommands[command] = (entry.luaCommands[command] ?? 0) + 1;
    return;
  }
  const name = command === "EVALSHA" || command === "EVAL" ? `${command} ${scriptNames.get(args[1] ?? "") ?? "?"}` : command;
  entry.commands[name] = (entry.commands[name] ?? 0) + 1;
  entry.total++;
  if (command === "EVALSHA" && args[1] === lookupSha) {
    entry.lookups++;
    if (perKey && args[3] !== undefined) entry.lookupsByKey[args[3]] = (entry.lookupsByKey[args[3]] ?? 0) + 1;
  }
}

const connection = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
await connection.connect();
// ioredis opens the monitoring connection as a duplicate of this one.
const feed = await connection.monitor();
process.on("message", (message: MonitorCommand) => {
  if (message.type !== "stop") return;
  feed.disconnect();
  void connection.quit().finally(() => process.disconnect());
});
feed.on("monitor", (_time: string, args: string[], source: string) => onCommand(args, source));
send({ type: "ready" });
