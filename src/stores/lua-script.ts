import { createHash } from "node:crypto";

export interface RedisScript {
  source: string;
  sha: string;
}

export function script(source: string): RedisScript {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/**
 * Redis's clock, which every expiry and date the scripts keep is read on (instances' clocks
 * disagree). `serverTime()` runs TIME once and returns it in ms, then in µs (the sequence's floor).
 * A fragment of the scripts that use it: after a `#!lua` line, which must come first.
 */
export const SERVER_TIME = `
local function serverTime()
  local t = redis.call('TIME')
  local seconds, micros = tonumber(t[1]), tonumber(t[2])
  return seconds * 1000 + math.floor(micros / 1000), seconds * 1000000 + micros
end
`;
