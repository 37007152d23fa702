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
 * KEYS: entry, version keys. ARGV: value, ttl ms, expected versions.
 */
export const FENCED_SET = script(`
for i = 2, #KEYS do
  if (redis.call('GET', KEYS[i]) or '0') ~= ARGV[i + 1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
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

/** Releases a lock only for its owner, then wakes the fleet's waiters. KEYS: lock. ARGV: token, channel, landed message. */
export const RELEASE_LOCK = script(`
local released = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then released = redis.call('DEL', KEYS[1]) end
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return released
`);

/** Extends a lock only for its owner. KEYS: lock. ARGV: token, ttl ms. */
export const EXTEND_LOCK = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/**
 * A read in one round trip: the entry and the current value of every version it depends on.
 * KEYS: entry, version keys. Returns { entry or false, versions... } (absent versions as false).
 */
export const LOOKUP = script(`
local out = { redis.call('GET', KEYS[1]) }
for i = 2, #KEYS do out[i] = redis.call('GET', KEYS[i]) end
return out
`);

/**
 * The lock holder's last step in one round trip: the fenced store, the release (owner only) and
 * the wake-up, so waiters read the value one round trip sooner.
 * KEYS: entry, lock, version keys. ARGV: value, ttl ms, token, channel, landed message, expected versions.
 */
export const STORE_AND_RELEASE = script(`
local stored = 1
for i = 3, #KEYS do
  if (redis.call('GET', KEYS[i]) or '0') ~= ARGV[i + 3] then stored = 0 break end
end
if stored == 1 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return stored
`);
