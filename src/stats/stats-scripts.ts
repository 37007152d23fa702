import { SERVER_TIME, script } from "../stores/lua-script.js";

/** Half-lives per era: popularity weights grow as 2^(age / half-life) and are rescaled once an era. */
export const ERA_HALF_LIVES = 32;

/**
 * Adds one interval's counted reads to the fleet's query statistics and trims them to the top K
 * by popularity. Scores use forward decay (Cormode et al., ICDE 2009): a read at time t adds
 * 2^((t − era start) / half-life), so comparing sums compares decayed popularity with no
 * per-member update. t is Redis's clock, not the instance's: an instance whose clock ran s ahead
 * weighed its reads 2^(s / half-life) times the others' (outside probe 234: with a one-minute
 * half-life, 20 reads 10 minutes ahead outranked 2 000). When the era moves on, stored scores are
 * scaled by 2^−32 per era in one ZUNIONSTORE. Load times are kept per query *shape* (model,
 * operation and the structure of the arguments, not their values), smoothed across the fleet: one
 * noisy load of one query cannot reorder queries that cost the same. Needs Redis ≥ 6.2 (ZMSCORE).
 * KEYS: scores (zset id → popularity), queries (hash id → replayable JSON), costs (hash shape →
 * ms), era, shapes (hash id → shape), first costs (hash shape → ms: a shape's first load in a
 * process, which includes compiling the query; used only for a shape with no cost).
 * ARGV: half-life ms, max queries, ttl ms, query count n, cost count c, then n × (id, reads, shape,
 * query JSON), then c pairs (shape, mean load ms this interval), then pairs (shape, first load ms).
 * Returns how many queries the trim forgot. Every key stays bounded by `max queries`: past
 * 2 × that + 64 shapes, a load-time hash keeps the kept queries' shapes and the costliest others.
 */
export const RECORD_QUERIES = script(`${SERVER_TIME}
local function chunked(command, key, list)
  -- unpack() is bounded by Lua's stack: send long lists in slices (even-sized, so pairs stay whole).
  for j = 1, #list, 1000 do redis.call(command, key, unpack(list, j, math.min(j + 999, #list))) end
end
local now = serverTime()
local halfLife = tonumber(ARGV[1])
local eraMs = halfLife * ${ERA_HALF_LIVES}
local era = math.floor(now / eraMs)
local max = tonumber(ARGV[2])
local n = tonumber(ARGV[4])
local c = tonumber(ARGV[5])
local stored = tonumber(redis.call('GET', KEYS[4]) or era)
local scale = 2 ^ ((now - era * eraMs) / halfLife)
-- Stored scores move into this era: down once it began, and back up when they were put in a
-- later one than Redis's clock is in (a writer of the previous version, whose weights followed
-- its own clock, ran ahead; or a failover to a server whose clock is behind): left there, every
-- later read would count 2^-32 times as much until Redis's clock caught up (outside probe 238).
if stored ~= era and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[1], 'WEIGHTS', math.min(math.max(2 ^ (-${ERA_HALF_LIVES} * (era - stored)), 1e-300), 1e300))
end
redis.call('SET', KEYS[4], era)
local zadd, queries, shapes = {}, {}, {}
for q = 0, n - 1 do
  local at = 6 + 4 * q
  zadd[#zadd + 1] = tonumber(ARGV[at + 1]) * scale
  zadd[#zadd + 1] = ARGV[at]
  queries[#queries + 1] = ARGV[at]
  queries[#queries + 1] = ARGV[at + 3]
  shapes[#shapes + 1] = ARGV[at]
  shapes[#shapes + 1] = ARGV[at + 2]
end
-- ZADD INCR takes one member at a time; ZUNIONSTORE with a temporary set would need another key.
for j = 1, #zadd, 2 do redis.call('ZINCRBY', KEYS[1], zadd[j], zadd[j + 1]) end
if #queries > 0 then
  chunked('HSET', KEYS[2], queries)
  chunked('HSET', KEYS[5], shapes)
end
local firstAt = 6 + 4 * n + 2 * c
for at = 6 + 4 * n, firstAt - 1, 2 do
  local shape, ms = ARGV[at], tonumber(ARGV[at + 1])
  local cost = tonumber(redis.call('HGET', KEYS[3], shape))
  redis.call('HSET', KEYS[3], shape, cost and (cost * 0.8 + ms * 0.2) or ms)
end
for at = firstAt, #ARGV, 2 do
  local shape, ms = ARGV[at], tonumber(ARGV[at + 1])
  local cost = tonumber(redis.call('HGET', KEYS[6], shape))
  redis.call('HSET', KEYS[6], shape, cost and (cost * 0.8 + ms * 0.2) or ms)
end
local forgotten = redis.call('ZCARD', KEYS[1]) - max
if forgotten > 0 then
  local gone = redis.call('ZRANGE', KEYS[1], 0, forgotten - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, forgotten - 1)
  chunked('HDEL', KEYS[2], gone)
  chunked('HDEL', KEYS[5], gone)
else
  forgotten = 0
end
-- Load times are kept per shape, and a shape outlives the queries trimmed above: past twice the
-- queries kept plus 64, a hash keeps the shapes of kept queries and, of the others, the \`max\`
-- costliest (outside probe 288: one field per shape ever loaded, renewed with every flush — a Json
-- filter's keys make a shape per key a user types). The costliest stay because a costly query
-- served from the cache is not loaded again: its shape's cost, once dropped, is not learnt again
-- when the query becomes popular (outside probe 290: dropping every shape no kept query had
-- ranked such a query as a 1 ms one, behind ten cheap ones). A pass runs once per 64 new shapes at most.
local costsLimit = 2 * max + 64
if redis.call('HLEN', KEYS[3]) > costsLimit or redis.call('HLEN', KEYS[6]) > costsLimit then
  local kept = {}
  local shapes = redis.call('HGETALL', KEYS[5])
  for i = 2, #shapes, 2 do kept[shapes[i]] = true end
  for _, key in ipairs({ KEYS[3], KEYS[6] }) do
    local others = {}
    local costs = redis.call('HGETALL', key)
    for i = 1, #costs, 2 do
      if not kept[costs[i]] then others[#others + 1] = { costs[i], tonumber(costs[i + 1]) or 0 } end
    end
    if #others > max then
      table.sort(others, function(a, b) return a[2] > b[2] end)
      local dropped = {}
      for i = max + 1, #others do dropped[#dropped + 1] = others[i][1] end
      chunked('HDEL', key, dropped)
    end
  end
end
for k = 1, 6 do redis.call('PEXPIRE', KEYS[k], ARGV[3]) end
return forgotten
`);

/**
 * The most valuable queries, best first: value = popularity × the smoothed load time of the
 * query's shape (ms, at least 0.1; 1 while unknown), so a rarer but costly query can outrank a
 * cheap popular one (a shape's first loads stand in for a shape never loaded twice in a process:
 * see RECORD_QUERIES). Reads the whole (bounded) top-K: warm() and the CLI call it, not reads.
 * KEYS: scores, queries, costs, shapes, first costs. ARGV: limit.
 * Returns flat { id, value, query JSON or false, load ms or false } groups.
 */
export const TOP_QUERIES = script(`
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local ranked = {}
local costs = {}
for i = 1, #all, 2 do
  local id = all[i]
  local shape = redis.call('HGET', KEYS[4], id)
  local ms = false
  if shape then
    if costs[shape] == nil then costs[shape] = redis.call('HGET', KEYS[3], shape) or redis.call('HGET', KEYS[5], shape) or false end
    ms = costs[shape]
  end
  local value = tonumber(all[i + 1]) * math.max(tonumber(ms) or 1, 0.1)
  ranked[#ranked + 1] = { id, value, ms }
end
table.sort(ranked, function(a, b) return a[2] > b[2] end)
local out = {}
for i = 1, math.min(tonumber(ARGV[1]), #ranked) do
  local entry = ranked[i]
  out[#out + 1] = entry[1]
  out[#out + 1] = tostring(entry[2])
  out[#out + 1] = redis.call('HGET', KEYS[2], entry[1]) or false
  out[#out + 1] = entry[3]
end
return out
`);

/**
 * Publishes one instance's counters for the fleet view, and forgets instances gone quiet. Timed by
 * Redis's clock, not the instances': one whose clock ran 30 s ahead removed every other instance's
 * entry at each publish, and one behind published under a time the others took as expired
 * (outside probe 155: 1–2 of 3 instances counted).
 * KEYS: instances (zset id → last publish ms), this instance's snapshot. ARGV: snapshot JSON, ttl ms, id.
 */
export const PUBLISH_SNAPSHOT = script(`${SERVER_TIME}
local now = serverTime()
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

/** Ids of instances that published within the last ttl, by Redis's clock. KEYS: instances. ARGV: ttl ms. */
export const LIVE_INSTANCES = script(`${SERVER_TIME}
local now = serverTime()
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')
`);

/** Removes one instance from the fleet view (on close). KEYS: instances, snapshot. ARGV: id. */
export const REMOVE_SNAPSHOT = script(`
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])
`);
