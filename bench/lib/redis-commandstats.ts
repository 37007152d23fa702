// Counting the commands a private redis-server executed, from INFO commandstats. Reset with
// CONFIG RESETSTAT before a measured window, read after it: the window's commands, by name.
// Commands run inside Lua scripts are counted too (Redis counts them like any other): `scripts`
// says how many of the calls were EVAL/EVALSHA/FCALL, i.e. one client round trip each.
import type { Redis } from "ioredis";

export interface CommandCounts {
  /** Calls by command name (lower case), the counting's own INFO/CONFIG excluded. */
  byName: Record<string, number>;
  total: number;
  /** EVAL, EVALSHA, FCALL (and their _RO variants). */
  scripts: number;
}

const OWN = new Set(["info", "config"]);
const SCRIPT = /^(eval|evalsha|fcall)(_ro)?$/;

export async function resetCommandStats(redis: Redis): Promise<void> {
  await redis.config("RESETSTAT");
}

export async function readCommandStats(redis: Redis): Promise<CommandCounts> {
  const text = await redis.info("commandstats");
  const byName: Record<string, number> = {};
  let total = 0;
  let scripts = 0;
  for (const line of text.split("\n")) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    // Redis 7 reports subcommands as "config|resetstat".
    if (!match || OWN.has(match[1]!.split("|")[0]!)) continue;
    const calls = Number(match[2]);
    byName[match[1]!] = calls;
    total += calls;
    if (SCRIPT.test(match[1]!)) scripts += calls;
  }
  return { byName, total, scripts };
}
