import { createHash } from "node:crypto";
import type { RedisScript } from "../stores/redis-scripts.js";

function script(source: string): RedisScript {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/** Half-lives per era: popularity weights grow as 2^(age / half-life) and are rescaled once an era. */
export const ERA_HALF_LIVES = 32;

/**
 * Adds one batch of sampled reads to the fleet's query statistics and trims them to the top K.
 * Scores use forward decay (Cormode et al., ICDE 2009): a read at time t adds 2^((t − era start)
 * / half-life), so comparing sums compares decayed popularity with no per-member update. When
 * the era moves on, stored scores are scaled down by 2^−32 per era in one ZUNIONSTORE.
 * Each read adds weight × the query's smoothed load time (ms, at least 0.1), so cheap queries
 * do not crowd out costly ones. Needs Redis ≥ 6.2 (ZMSCORE).
 * KEYS: scores (zset), queries (hash id → replayable JSON), costs (hash id → ms), era.
 * ARGV: era, max queries, ttl ms, then per query: id, weight, load ms (−1 unknown), query JSON.
 * Returns how many queries the trim forgot.
 */
export const RECORD_QUERIES = script(`
local function chunked(command, key, list)
  -- unpack() is bounded by Lua's stack: send long lists in slices (even-sized, so pairs stay whole).
  for j = 1, #list, 1000 do redis.call(command, key, unpack(list, j, math.min(j + 999, #list))) end
end
local era = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local stored = tonumber(redis.call('GET', KEYS[4]) or ARGV[1])
local scale = 1
if stored < era then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[1], 'WEIGHTS', math.max(2 ^ (-${ERA_HALF_LIVES} * (era - stored)), 1e-300))
  end
  stored = era
elseif stored > era then
  -- This instance's clock lags the era the fleet is in: scale its weights into that era.
  scale = 2 ^ (-${ERA_HALF_LIVES} * (stored - era))
end
redis.call('SET', KEYS[4], stored)
local ids = {}
for i = 4, #ARGV, 4 do ids[#ids + 1] = ARGV[i] end
-- A few commands for the whole batch (not a few per query): Redis is busy for less time.
local scores, costs = {}, {}
for j = 1, #ids, 1000 do
  local last = math.min(j + 999, #ids)
  local s = redis.call('ZMSCORE', KEYS[1], unpack(ids, j, last))
  local c = redis.call('HMGET', KEYS[3], unpack(ids, j, last))
  for k = 1, #s do scores[j + k - 1] = s[k]; costs[j + k - 1] = c[k] end
end
local zadd, queries, newCosts = {}, {}, {}
for n = 1, #ids do
  local at = 4 * n
  local cost = tonumber(costs[n])
  local ms = tonumber(ARGV[at + 2])
  if ms >= 0 then
    if cost then cost = cost * 0.7 + ms * 0.3 else cost = ms end
    newCosts[#newCosts + 1] = ids[n]
    newCosts[#newCosts + 1] = cost
  end
  zadd[#zadd + 1] = (tonumber(scores[n]) or 0) + tonumber(ARGV[at + 1]) * scale * math.max(cost or 1, 0.1)
  zadd[#zadd + 1] = ids[n]
  queries[#queries + 1] = ids[n]
  queries[#queries + 1] = ARGV[at + 3]
end
chunked('ZADD', KEYS[1], zadd)
chunked('HSET', KEYS[2], queries)
if #newCosts > 0 then chunked('HSET', KEYS[3], newCosts) end
local forgotten = redis.call('ZCARD', KEYS[1]) - max
if forgotten > 0 then
  local gone = redis.call('ZRANGE', KEYS[1], 0, forgotten - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, forgotten - 1)
  chunked('HDEL', KEYS[2], gone)
  chunked('HDEL', KEYS[3], gone)
else
  forgotten = 0
end
for k = 1, 4 do redis.call('PEXPIRE', KEYS[k], ARGV[3]) end
return forgotten
`);

/**
 * The top queries, best first: flat { id, score, query JSON or false, load ms or false } groups.
 * KEYS: scores, queries, costs. ARGV: limit.
 */
export const TOP_QUERIES = script(`
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local out = {}
for i = 1, #ids, 2 do
  out[#out + 1] = ids[i]
  out[#out + 1] = ids[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], ids[i]) or false
  out[#out + 1] = redis.call('HGET', KEYS[3], ids[i]) or false
end
return out
`);

/**
 * Publishes one instance's counters for the fleet view, and forgets instances gone quiet.
 * KEYS: instances (zset id → last publish ms), this instance's snapshot. ARGV: snapshot JSON, ttl ms, now ms, id.
 */
export const PUBLISH_SNAPSHOT = script(`
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

/** Ids of instances that published within the last ttl. KEYS: instances. ARGV: now ms, ttl ms. */
export const LIVE_INSTANCES = script(`
return redis.call('ZRANGEBYSCORE', KEYS[1], tonumber(ARGV[1]) - tonumber(ARGV[2]), '+inf')
`);

/** Removes one instance from the fleet view (on close). KEYS: instances, snapshot. ARGV: id. */
export const REMOVE_SNAPSHOT = script(`
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])
`);
