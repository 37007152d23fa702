import { createHash } from "node:crypto";

export interface RedisScript {
  source: string;
  sha: string;
}

function script(source: string): RedisScript {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/**
 * Stale-set fencing (as memcache leases do): store the entry only if every version the reader
 * captured before loading is still current, so a load that raced a write is never stored.
 * KEYS: entry, version keys. ARGV: value, ttl ms, channel, landed message, expected versions.
 * Publishes the landed message either way, so fleet waiters wake and re-check.
 */
export const FENCED_SET = script(`
local stored = 1
for i = 2, #KEYS do
  if (redis.call('GET', KEYS[i]) or '0') ~= ARGV[i + 3] then stored = 0 break end
end
if stored == 1 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return stored
`);

/**
 * One atomic invalidation: take the next sequence number, set every version key to it (record
 * tags expire, model generations do not) and announce it. Returns { seq, receivers }.
 * KEYS: sequence key, version keys. ARGV: channel, message prefix, message suffix, tag ttl ms,
 * then per version key '1' if it expires.
 */
export const BUMP_VERSIONS = script(`
local seq = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do
  if ARGV[i + 3] == '1' then redis.call('SET', KEYS[i], seq, 'PX', ARGV[4]) else redis.call('SET', KEYS[i], seq) end
end
local receivers = redis.call('PUBLISH', ARGV[1], ARGV[2] .. seq .. ARGV[3])
return {seq, receivers}
`);
