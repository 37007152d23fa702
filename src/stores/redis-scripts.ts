import { SERVER_TIME, script } from "./lua-script.js";

export type { RedisScript } from "./lua-script.js";

/**
 * The fleet's longest entry lifetime L: the shared value (`lifetimeKey`), raised to this
 * instance's own if longer. The longest instance refreshes it now and then; once no instance
 * that long is left, it expires (after 2L) and shorter ones take over.
 */
const TAG_LIFETIME = `
local function tagLifetime(lifetimeKey, own)
  own = tonumber(own)
  local shared = tonumber(redis.call('GET', lifetimeKey) or '0') or 0
  if own > shared or (own == shared and redis.call('PTTL', lifetimeKey) < own) then
    redis.call('SET', lifetimeKey, own, 'PX', own * 2)
    return own
  end
  return shared
end
`;

/**
 * Versions never return to an earlier value: a version key that does not exist (never bumped,
 * or expired) is created at the namespace's current sequence number, which is at least every
 * value any version key ever had. An entry that recorded a version before a write can therefore
 * never match again, whatever expired in between and whatever lifetimes the writers used.
 * Tags (flag '1') expire, model generations do not. A tag is set to live 2L (L: the fleet's
 * longest entry lifetime) and extended when a read finds less than L left, so an entry recorded
 * now never outlives its tag (which would only cost a miss) and a tag nobody reads expires.
 */
const READ_OR_CREATE = `
local tagTtl
local function readOrCreate(versionKey, seqKey, lifetimeKey, own, expiring)
  local value = redis.call('GET', versionKey)
  if value then
    if expiring == '1' then
      tagTtl = tagTtl or tagLifetime(lifetimeKey, own)
      if redis.call('PTTL', versionKey) < tagTtl then redis.call('PEXPIRE', versionKey, tagTtl * 2) end
    end
    return value
  end
  value = redis.call('GET', seqKey)
  if not value then
    -- The sequence is gone too (deleted, a swap to an empty database): start it from the server's
    -- clock in microseconds, as a bump does, above every version it ever handed out — at 0, a
    -- version re-created now would match entries stored before the namespace's first write.
    local _, nowUs = serverTime()
    value = string.format('%.0f', nowUs)
    redis.call('SET', seqKey, value)
  end
  if expiring == '1' then
    tagTtl = tagTtl or tagLifetime(lifetimeKey, own)
    redis.call('SET', versionKey, value, 'PX', tagTtl * 2)
  else
    redis.call('SET', versionKey, value)
  end
  return value
end
`;

/**
 * Write announcements ("dirty marks"): before a write touches the database, its writer adds a
 * token to the sorted set `d<version key>` (score: when the mark lapses, Redis time in ms); it
 * removes the token once the write committed and was invalidated. While a live token stands,
 * nothing depending on the name is served from Redis or stored, so a writer that is cut off
 * after its commit cannot leave a stale entry behind. Expired tokens are ignored.
 */
const DIRTY = `
local function dirty(versionKey)
  local marks = 'd' .. versionKey
  if redis.call('EXISTS', marks) == 0 then return false end
  return redis.call('ZCOUNT', marks, (serverTime()), '+inf') > 0
end
`;

/**
 * Stale-set fencing (as memcache leases do): store the entry only if every version the reader
 * captured before loading is still current, so a load that raced a write is never stored.
 * KEYS: entry, version keys. ARGV: value, ttl ms, expected versions.
 */
export const FENCED_SET = script(`${SERVER_TIME}${DIRTY}
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i + 1] or dirty(KEYS[i]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);

/**
 * How long an instance's bump count lives once its registration lapsed (REGISTER_INSTANCE gives it
 * this lifetime, and so do its own bumps and rollback checks while it is not registered; while it
 * is, they — four a second — keep it without one, so that a `volatile-*` eviction policy never
 * takes it: an evicted count reads as keys gone back, and fenced the namespace for the fleet
 * (outside probe 184: 63–151 fences in 20 s under `volatile-lru`)). close() deletes it; an
 * instance that stopped otherwise leaves it an hour.
 * One cut off from Redis longer finds it gone and fences the namespace once (as it would a
 * rollback): after such an outage that costs nothing the outage did not.
 */
export const BUMP_COUNT_TTL_MS = 3_600_000;

/**
 * Keeps an instance's bump count (see BUMP_COUNT_TTL_MS): without a lifetime while the instance
 * is registered, else with its hour — an instance not registered (thawed after its registration
 * lapsed, or not registered yet) may die before it registers, and no heartbeat would then give
 * its count the hour (outside probe 190: counts left for good by 3–10 % of short-lived instances).
 */
const KEEP_BUMP_COUNT = `
local function keepBumpCount(countKey, registry, member)
  local expiry = redis.call('ZSCORE', registry, member)
  if expiry and tonumber(expiry) >= (serverTime()) then
    redis.call('PERSIST', countKey)
  else
    redis.call('PEXPIRE', countKey, ${BUMP_COUNT_TTL_MS})
  end
end
`;

/** How long the registry's birth (REGISTER_INSTANCE's KEYS[7]) outlives the last heartbeat: a registry nobody renewed that long is empty anyway. */
const REGISTRY_BIRTH_TTL_MS = 60_000;

/**
 * One atomic invalidation: take the next sequence number, set every version key to it (tags
 * expire after twice the fleet's tag lifetime, model generations do not), add created records' identity tags to the Bloom
 * filters that guard their model (the live one and one being rebuilt), and announce it.
 * Returns { seq, receivers, … }: receivers is how many *other* instances will acknowledge (see the end of the script).
 * The sequence never goes backwards, even after Redis restarted empty: it is at least Redis's
 * clock in microseconds. With a mark mode the same call announces a write ('set': adds the token
 * to every name's dirty marks, lapsing after mark ttl ms) or confirms it ('clear': removes it).
 * It may run when Redis is out of memory (allow-oom): an invalidation must always get through.
 * KEYS: sequence key, instance registry, tag lifetime key, V version keys, then per Bloom group: live meta, live
 * bits, next meta, next bits. ARGV: channel ('' publishes nothing), message prefix, message suffix, own tag lifetime ms, V, G,
 * now (ms: live registrations count as receivers, at least as many as PUBLISH reached), mark mode ('', 'set', 'clear'), token, mark ttl
 * ms, the writer's own ack channel, the writer's own registration, V expiry flags ('1' expires), then per group: item count, items.
 * Then KEYS this instance's bump count (INCR: see ROLLBACK_CHECK) and the pending writes (a hash, see REGISTER_INSTANCE), ARGV its operation and the names an
 * orphaned write is swept with. Last: KEYS the live schemas (REGISTER_INSTANCE) and the schema
 * epoch's version key, ARGV the epoch's name, the writer's schema (`<database>|<fingerprint>`; ''
 * checks nothing) and its database prefix (`<database>|`). While an instance of another schema on the same database is
 * live, the bump also bumps (and marks) the schema epoch, which every entry of that database
 * depends on, and names it in the message: the other schema's reads may depend on names this
 * writer does not know (a renamed field or model, a new unique field or relation). Returns
 * { seq, receivers, mixed, this instance's bump count, whether its own registration stands (1/0) }.
 */
/**
 * Writes nothing, but declares that it may (no `no-writes` flag): Redis refuses it before it runs
 * where it refuses writes (`NOREPLICAS`, `MISCONF`, `READONLY` on a replica). `allow-oom`: a full
 * memory is not such a refusal (the bumps still run then).
 */
export const TAKES_WRITES = script(`#!lua flags=allow-oom
return 1
`);

/** SET KEYS[1] ARGV[1], out of memory too (allow-oom): the fenced server's record (see ServerIdentityHooks.record). */
export const RECORD_SERVER = script(`#!lua flags=allow-oom
return redis.call('SET', KEYS[1], ARGV[1])
`);

export const BUMP_VERSIONS = script(`#!lua flags=allow-oom
${SERVER_TIME}${TAG_LIFETIME}${KEEP_BUMP_COUNT}
-- A filter whose bits are gone while its metadata stands was evicted (or deleted): a SETBIT would
-- grow a new bits key holding only the later additions, which reaches full length and is then
-- trusted (outside probe 135: every existing row "not found"). Drop its metadata instead: no
-- filter, so none is trusted, and the next reader rebuilds it (a rebuild's "next" filter so
-- dropped makes BLOOM_FINISH refuse it).
local function bloomAdd(metaKey, bitsKey, item)
  local mk = redis.call('HMGET', metaKey, 'm', 'k')
  if not mk[1] then return end
  if redis.call('EXISTS', bitsKey) == 0 then
    redis.call('DEL', metaKey)
    return
  end
  local m, k = tonumber(mk[1]), tonumber(mk[2])
  local h = redis.sha1hex(item)
  local h1, h2 = tonumber(string.sub(h, 1, 8), 16), tonumber(string.sub(h, 9, 16), 16)
  for i = 0, k - 1 do redis.call('SETBIT', bitsKey, (h1 + i * h2) % m, 1) end
end
local V, G = tonumber(ARGV[5]), tonumber(ARGV[6])
local markMode, token = ARGV[8], ARGV[9]
local pendingKey, pendingOp = KEYS[#KEYS - 2], ARGV[#ARGV - 4]
-- A sweep of an orphaned write runs once: whoever finds its record gone or swept was beaten to it (or the writer confirmed).
local record = pendingOp ~= '' and pendingOp ~= 'add' and redis.call('HGET', pendingKey, token)
if pendingOp == 'sweep' and (not record or string.sub(record, 1, 2) == '\\n\\n') then return {-1, 0, 0, 0, 0} end
-- How many of its bumps Redis took from this instance (see ROLLBACK_CHECK): keys put back to a copy
-- taken before some of them count fewer, whatever the sequence says after later writes.
local bumpsKey = KEYS[#KEYS - 3]
local bumps = redis.call('INCR', bumpsKey)
keepBumpCount(bumpsKey, KEYS[2], ARGV[12])
local seq = redis.call('INCR', KEYS[1])
local nowMs, floor = serverTime()
if seq < floor then
  redis.call('SET', KEYS[1], floor)
  seq = redis.call('INCR', KEYS[1])
end
-- Lua would print a number this large in exponent notation: format it whole.
local seqText = string.format('%.0f', seq)
local markUntil = nowMs + tonumber(ARGV[10])
-- A pending record: the hash outlives it (extended, never shortened).
local function keepPending(record)
  redis.call('HSET', pendingKey, token, record)
  if redis.call('PTTL', pendingKey) < tonumber(ARGV[10]) then redis.call('PEXPIRE', pendingKey, ARGV[10]) end
end
if pendingOp == 'add' then
  keepPending(ARGV[12] .. '\\n' .. string.format('%.0f', nowMs) .. '\\n' .. string.format('%.0f', markUntil) .. '\\n' .. ARGV[#ARGV - 3])
elseif pendingOp == 'sweep' then
  -- Kept, its writer's name dropped (not an orphan any more), until its marks lapse: a writer
  -- that was alive after all clears the sweep's marks with its confirmation. Two newlines first:
  -- an older version's heartbeat cannot parse it, so drops it instead of sweeping it again.
  local announced, lapses, names = string.match(record, '^[^\\n]*\\n(%d+)\\n(%d+)\\n(.*)$')
  if announced then
    keepPending('\\n\\n' .. announced .. '\\n' .. string.format('%.0f', math.max(tonumber(lapses), markUntil)) .. '\\n' .. names)
  else
    redis.call('HDEL', pendingKey, token)
  end
elseif pendingOp ~= '' then
  redis.call('HDEL', pendingKey, token)
  -- Only a confirmation settles the write (one of unknown outcome keeps every mark: 'set').
  local swept = markMode == 'clear' and record and string.match(record, '^\\n\\n%d+\\n%d+\\n(.*)$')
  local ok, names = pcall(cjson.decode, swept or '')
  if ok and type(names) == 'table' then
    local versionPrefix = string.sub(KEYS[1], 1, -4) .. 'v:'
    for _, name in ipairs(names) do
      if type(name) == 'string' then redis.call('ZREM', 'd' .. versionPrefix .. name, token) end
    end
  end
end
local function mark(key)
  local marks = 'd' .. key
  if markMode == 'set' then
    -- A sweep never shortens the announcement's own mark (one token): the write may commit later still.
    local standing = pendingOp == 'sweep' and redis.call('ZSCORE', marks, token)
    if not standing or tonumber(standing) < markUntil then redis.call('ZADD', marks, markUntil, token) end
    -- Marks that lapsed go: a writer that died before its confirmation left its own, and the
    -- set lives on while its name is written (outside probe 235: still there 18 minutes later).
    redis.call('ZREMRANGEBYSCORE', marks, '-inf', '(' .. string.format('%.0f', nowMs))
    -- Extended, never shortened: the set may hold others' marks that lapse later than this one.
    if redis.call('PTTL', marks) < tonumber(ARGV[10]) then redis.call('PEXPIRE', marks, ARGV[10]) end
  elseif markMode == 'clear' then
    redis.call('ZREM', marks, token)
  end
end
local tagTtl
for i = 1, V do
  local key = KEYS[3 + i]
  if ARGV[12 + i] == '1' then
    tagTtl = tagTtl or tagLifetime(KEYS[3], ARGV[4])
    redis.call('SET', key, seqText, 'PX', tagTtl * 2)
  else
    redis.call('SET', key, seqText)
  end
  mark(key)
end
local message = ARGV[3]
local mixed = 0
local ownSchema, database = ARGV[#ARGV - 1], ARGV[#ARGV]
if ownSchema ~= '' then
  for _, schema in ipairs(redis.call('ZRANGEBYSCORE', KEYS[#KEYS - 1], nowMs, '+inf')) do
    if schema ~= ownSchema and string.sub(schema, 1, #database) == database then mixed = 1 end
  end
  if mixed == 1 then
    local key = KEYS[#KEYS]
    -- The database's schema epoch expires as tags do (see expiryFlag).
    tagTtl = tagTtl or tagLifetime(KEYS[3], ARGV[4])
    redis.call('SET', key, seqText, 'PX', tagTtl * 2)
    mark(key)
    -- The names are a JSON array at the end of the message, never empty: name the epoch last.
    message = string.sub(message, 1, -2) .. ',' .. cjson.encode(ARGV[#ARGV - 2]) .. ']'
  elseif markMode == 'clear' then
    -- Announced while the schemas were mixed, confirmed (or withdrawn) after the other left: its
    -- mark on the epoch must go too, or every read of the database bypasses until it lapses.
    redis.call('ZREM', 'd' .. KEYS[#KEYS], token)
  end
end
local a = 13 + V
for g = 0, G - 1 do
  local base = 3 + V + g * 4
  local count = tonumber(ARGV[a])
  a = a + 1
  for t = 1, count do
    bloomAdd(KEYS[base + 1], KEYS[base + 2], ARGV[a])
    bloomAdd(KEYS[base + 3], KEYS[base + 4], ARGV[a])
    a = a + 1
  end
end
-- No channel: a silent bump (a fence on a server no instance has trusted yet), nobody to tell.
if ARGV[1] == '' then return {seq, 0, mixed, bumps, 1} end
local receivers = redis.call('PUBLISH', ARGV[1], ARGV[2] .. seqText .. message)
-- The writer applies its own bump from this reply and does not acknowledge it to itself: take
-- it out of the count exactly when PUBLISH counted it. Its subscriber connection subscribed to
-- the events channel and to its own ack channel in one SUBSCRIBE, and both end with the
-- connection, so (in this same atomic script) it is subscribed to one exactly when to the other.
if ARGV[11] ~= '' and redis.call('PUBSUB', 'NUMSUB', ARGV[11])[2] > 0 then receivers = receivers - 1 end
-- PUBLISH misses a subscriber Redis dropped that has not noticed yet (and, on a Cluster, every
-- other node's): count the registered live instances too (expiries in the server's time, see
-- REGISTER_INSTANCE), but for the writer's own registration. The max keeps PUBLISH's count when
-- a raw subscriber listens.
-- Whether the writer's own registration stands: gone while the writer knows it renewed it (a
-- flush, a failover that lost it), the registry cannot count the others either.
local ownStands = 0
if ARGV[7] == '1' then
  local registered = redis.call('ZCOUNT', KEYS[2], nowMs, '+inf')
  local own = redis.call('ZSCORE', KEYS[2], ARGV[12])
  if own and tonumber(own) >= nowMs then
    registered = registered - 1
    ownStands = 1
  end
  receivers = math.max(receivers, registered)
end
return {seq, receivers, mixed, bumps, ownStands}
`);

/**
 * Which of the given instances are not registered live (their registration lapsed, or close()
 * removed it): see Bus.endLapsedSubscribers. None while the registry is absent or younger than
 * ARGV[1] ms (see REGISTER_INSTANCE's KEYS[7]): a registry lost (FLUSHALL, a DEL, an eviction) is
 * empty until every live instance's next heartbeat, and its absences say nothing yet (outside
 * probes 174 and 176: writers ended live instances' subscriber connections right after a flush,
 * and after a DEL of the registry alone). KEYS: registry, its birth.
 * ARGV: the registry's minimum age, then members. Returns those members.
 */
export const UNREGISTERED = script(`${SERVER_TIME}
local now = serverTime()
local born = tonumber(redis.call('GET', KEYS[2]) or '')
if redis.call('EXISTS', KEYS[1]) == 0 or not born or now - born < tonumber(ARGV[1]) then return {} end
local out = {}
for i = 2, #ARGV do
  local expiry = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if not expiry or tonumber(expiry) < now then out[#out + 1] = ARGV[i] end
end
return out
`);

/**
 * Whether the keys went back under the same server process (SWAPDB, DEBUG RELOAD, REPLICAOF of an
 * older copy): the sequence, and this instance's bump count (kept: see KEEP_BUMP_COUNT). The
 * sequence alone cannot tell once anyone bumped after the rollback (its floor is the server's
 * clock, above every earlier value); the count moves by this instance's own bumps only.
 * KEYS: sequence, this instance's bump count, the registry, and on a Cluster the namespace's server
 * record. ARGV: this instance's member. Returns both (nil when absent), and with the fourth key the
 * run_id of the node that ran it (INFO server: the namespace's node) and the one recorded.
 * Declared as a script that writes (a shebang without `no-writes`), out of memory too: a replica
 * refuses it before it runs, from every instance — not only those whose count it would keep, which
 * left an instance that never wrote serving a server made a replica of an older copy until its
 * registration lapsed (outside probe 202: 2.7 s; see ServerIdentity's rollback check).
 */
export const ROLLBACK_CHECK = script(`#!lua flags=allow-oom
${SERVER_TIME}${KEEP_BUMP_COUNT}
local bumps = redis.call('GET', KEYS[2])
if bumps then keepBumpCount(KEYS[2], KEYS[3], ARGV[1]) end
local node, recorded = false, false
if KEYS[4] then
  local info = redis.pcall('INFO', 'server')
  if type(info) == 'string' then node = string.match(info, 'run_id:(%x+)') or false end
  recorded = redis.call('GET', KEYS[4]) or false
end
return {redis.call('GET', KEYS[1]) or false, bumps or false, node, recorded}
`);

/**
 * Raises the sequence to at least a value this instance saw on another server, before a fence on
 * a new one: its clock may run behind the old server's, and a bump must never hand out a
 * version some entry or in-flight load may have recorded there. Raises this instance's bump count
 * to the highest it was told too: counted on from there, a copy of the keys set aside before the
 * fence and put back later counts fewer (outside probe 199: reset to 0 at the fence of a `SWAPDB`,
 * the count of the copy swapped back was above it, and the rollback went unseen).
 * KEYS: sequence key, this instance's bump count, the registry. ARGV: sequence floor, count floor, this instance's member.
 * Out of memory too (allow-oom), as the fence's bump: refused there, no fence completed, and
 * every read waited for a verification that never came (outside probe 150: a sequence evicted
 * under `allkeys-lru`, then Redis full).
 */
export const RAISE_SEQUENCE = script(`#!lua flags=allow-oom
${SERVER_TIME}${KEEP_BUMP_COUNT}
local floor = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') < floor then redis.call('SET', KEYS[1], ARGV[1]) end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
  keepBumpCount(KEYS[2], KEYS[3], ARGV[3])
end
return 1
`);

/**
 * An instance's registration heartbeat: registers it in the live set until its expiry, drops
 * expired registrations, and keeps the fleet's longest L1 lease in a key of its own (set by any
 * instance whose lease is at least the recorded one, so it lapses with the last registration of
 * the instance that set it). Returns that longest lease: a writer waits that long for an instance
 * that did not acknowledge. KEYS: registry, longest-lease key, live schemas, sequence key, schema
 * epoch's version key. ARGV: member, own lease ms, registration lifetime ms, schema
 * (`<database>|<fingerprint>`, kept in the live schemas, a sorted set by expiry, as the instances
 * are), database prefix (`<database>|`), heartbeat ms, and the prefix of the instances' bump
 * counts (see BUMP_COUNT_TTL_MS: a lapsed instance's count is given its lifetime). Returns that longest lease, how many schemas of this
 * database are live, and the schema epoch's new version if this registration bumped it ('' otherwise). Expiries are the server's time, not the instances' (whose clocks may
 * disagree: one running ahead that died would stay "live" by its lead, one running behind would
 * never count as live).
 * Last, the orphaned writes: a write's announcement records it in the pending writes (KEYS[6], a
 * hash: token → writer's registration, when announced, when its marks lapse, the names to sweep it
 * with), its confirmation removes it. A write announced longer than a registration lifetime ago
 * (its writer has registered since, if alive) whose writer is no longer registered was abandoned
 * between its announcement and its confirmation — perhaps after its commit, whose result-only
 * names (another unique key of the row) nobody invalidated. Returned as token, names pairs, for
 * this instance to sweep (BUMP_VERSIONS 'sweep': once, whoever comes first). Records whose marks
 * lapsed are dropped; a swept record stays, without its writer, until its marks lapse (a writer
 * alive after all clears the sweep's marks with its confirmation). KEYS[7], when given: when the
 * registry was made (set when absent: after a FLUSHALL, by the first heartbeat since), which
 * UNREGISTERED reads. KEYS[8], when given: each schema's last registration (a sorted set by time). Only a heartbeat whose own
 * registration still stood and was renewed within two heartbeats sweeps (or a new instance's first,
 * ARGV[8] '1'): after a stall of Redis every registration lapsed, or the writer's did first, and live
 * writers have not registered again yet.
 * It may run when Redis is out of memory (allow-oom): a registration refused there lapses, and
 * the instance would serve nothing cached while Redis still serves lookups (an outside probe).
 */
export const REGISTER_INSTANCE = script(`#!lua flags=allow-oom
${SERVER_TIME}
local now, nowUs = serverTime()
-- Whether this instance's registration stood until now, renewed regularly: if it lapsed, Redis
-- or this instance stalled longer than a registration lifetime, and every registration may have
-- lapsed in the stall; if its last renewal landed over two heartbeats ago, Redis or this instance
-- stalled, and a writer whose renewals the stall delayed more (its last one landed earlier, its
-- circuit breaker opened) may not have registered again yet.
local existed = redis.call('EXISTS', KEYS[1]) == 1
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
local steady = previous and tonumber(previous) >= now and tonumber(previous) - tonumber(ARGV[3]) >= now - 2 * tonumber(ARGV[6])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
-- The bump counts of lapsed instances (ARGV[7] .. member, kept without a lifetime while they run) expire.
if ARGV[7] ~= nil then
  for _, lapsed in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do redis.call('PEXPIRE', ARGV[7] .. lapsed, ${BUMP_COUNT_TTL_MS}) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
-- When the registry was (re)made: kept while any instance registers (see UNREGISTERED); made
-- again when the registry was gone, whether or not this key went with it (a DEL, an eviction).
if KEYS[7] ~= nil then
  if existed then redis.call('SET', KEYS[7], now, 'NX') else redis.call('SET', KEYS[7], now) end
  redis.call('PEXPIRE', KEYS[7], ${REGISTRY_BIRTH_TTL_MS})
end
local mine = tonumber(ARGV[2])
local longest = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if mine >= longest then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  longest = mine
end
local schemas, epoch = 1, ''
if ARGV[4] ~= nil and ARGV[4] ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  local expiry = now + tonumber(ARGV[3])
  local known = redis.call('ZSCORE', KEYS[3], ARGV[4])
  -- Another schema of this database seen since this one last registered: a deploy that came and
  -- went while this schema was not live (a rollback; outside probe 189). Its writes bumped names
  -- this schema's entries may not depend on: they must not answer. KEYS[8]: every schema's last registration.
  local returning = false
  if KEYS[8] ~= nil then
    if not known then
      local since = redis.call('ZSCORE', KEYS[8], ARGV[4]) or '-inf'
      if since ~= '-inf' then since = '(' .. since end
      for _, seen in ipairs(redis.call('ZRANGEBYSCORE', KEYS[8], since, '+inf')) do
        if seen ~= ARGV[4] and string.sub(seen, 1, #ARGV[5]) == ARGV[5] then returning = true break end
      end
    end
    redis.call('ZADD', KEYS[8], now, ARGV[4])
    -- A schema per deploy: the last hundred are kept (one older than all of them has no entries left worth keeping).
    redis.call('ZREMRANGEBYRANK', KEYS[8], 0, -101)
  end
  if not known or tonumber(known) < expiry then redis.call('ZADD', KEYS[3], expiry, ARGV[4]) end
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
  -- Only schemas of the same database count: other applications may share the namespace.
  schemas = 0
  for _, schema in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
    if string.sub(schema, 1, #ARGV[5]) == ARGV[5] then schemas = schemas + 1 end
  end
  -- A schema joining a fleet of another: what its instances loaded before this registration was
  -- not fenced against the other schema's writes (they bump the epoch only from now on). A
  -- schema returning after another's deploy: what it stored before was not fenced either.
  if not known and (schemas > 1 or returning) then
    local seq = redis.call('INCR', KEYS[4])
    if seq < nowUs then
      redis.call('SET', KEYS[4], nowUs)
      seq = redis.call('INCR', KEYS[4])
    end
    epoch = string.format('%.0f', seq)
    redis.call('SET', KEYS[5], epoch)
  end
end
local orphans = {}
-- After a stall (a paused Redis lets every registration lapse at once) the live writers register
-- again with their next heartbeats: sweep from this instance's next steady one. A new instance's
-- first registration (ARGV[8]) sweeps too: after a crash of the whole fleet (a one-replica service
-- killed) nobody else would, and it served what an orphaned write changed until its second
-- heartbeat (outside probe 226: 1.1-1.4 s). One starting right after a stall of Redis may sweep a
-- live writer's write: its marks keep the names uncached until that writer's confirmation clears them.
local first = ARGV[8] == '1' and not previous
if (steady or first) and KEYS[6] ~= nil and redis.call('EXISTS', KEYS[6]) == 1 then
  local records = redis.call('HGETALL', KEYS[6])
  for i = 1, #records, 2 do
    local writer, announced, lapses, names = string.match(records[i + 1], '^([^\\n]*)\\n(%d+)\\n(%d+)\\n(.*)$')
    -- A swept record (see BUMP_VERSIONS) waits for its marks to lapse, never swept again.
    local sweptLapses = string.match(records[i + 1], '^\\n\\n%d+\\n(%d+)\\n')
    if sweptLapses then
      if tonumber(sweptLapses) <= now then redis.call('HDEL', KEYS[6], records[i]) end
    elseif not writer or tonumber(lapses) <= now then
      redis.call('HDEL', KEYS[6], records[i])
    elseif tonumber(announced) + tonumber(ARGV[3]) < now and #orphans < 40 and not redis.call('ZSCORE', KEYS[1], writer) then
      orphans[#orphans + 1] = records[i]
      orphans[#orphans + 1] = names
    end
  end
end
return {longest, schemas, epoch, orphans}
`);

/**
 * The wake-up after a load, published only when someone waits for it: a reader that failed to
 * take a lock marks that in the lock's "waited" key (LOOKUP_OR_LOCK), atomically with the
 * failure, so a release either sees its mark or happened before the attempt (which then found
 * the lock free or the value landed). Deleting the mark as it publishes lets the next holder
 * publish only for its own waiters. Without a mark key (a Cluster: another slot) it always publishes.
 */
const WAKE_WAITERS = `
local function wakeWaiters(waitedKey, channel, message)
  if channel == '' then return end
  if waitedKey ~= nil and redis.call('DEL', waitedKey) == 0 then return end
  redis.call('PUBLISH', channel, message)
end
`;

/** Releases a lock only for its owner, then wakes the fleet's waiters. KEYS: lock[, waited mark]. ARGV: token, channel, landed message. */
export const RELEASE_LOCK = script(`${WAKE_WAITERS}
local released = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then released = redis.call('DEL', KEYS[1]) end
wakeWaiters(KEYS[2], ARGV[2], ARGV[3])
return released
`);

/** Extends a lock only for its owner. KEYS: lock. ARGV: token, ttl ms. */
export const EXTEND_LOCK = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/**
 * A read in one round trip: the entry and the current value of every version it depends on
 * (created at the current sequence number where absent, see READ_OR_CREATE), then whether a
 * write in progress marked any of them dirty (1: serve and store nothing).
 * KEYS: entry, sequence key, tag lifetime key, version keys. ARGV: own tag lifetime ms, one expiry
 * flag per version key. Returns { entry or false, versions..., dirty }.
 */
export const LOOKUP = script(`${SERVER_TIME}${TAG_LIFETIME}${READ_OR_CREATE}${DIRTY}
local out = { redis.call('GET', KEYS[1]) }
local marked = 0
for i = 4, #KEYS do
  out[i - 2] = readOrCreate(KEYS[i], KEYS[2], KEYS[3], ARGV[1], ARGV[i - 2])
  if marked == 0 and dirty(KEYS[i]) then marked = 1 end
end
out[#KEYS - 1] = marked
return out
`);

/**
 * A miss in one round trip: LOOKUP, and if the entry cannot be served, the fleet lock taken in
 * the same script — nothing can land between the failed lookup and the lock, so the holder
 * loads without looking again. An entry is servable when its recorded versions are exactly the
 * current ones (its header's JSON compared as text with the one built from the current values)
 * and its times are past the caller's bounds (the caller's clock, as the entry's times are). If
 * another owner holds the lock, the failure is marked in the lock's "waited" key (unless the
 * owner is `ownToken`, a load of the caller's own process, whose readers wait in process); a
 * dirty mark (write in progress) takes no lock. The caller checks a returned entry again (and
 * is handed, whatever the lock did, a stored text whose header does not parse: corrupt).
 * KEYS: entry, sequence key, tag lifetime key, lock, waited mark, V version keys.
 * ARGV: own tag lifetime ms, token, lock ttl ms, own token, fresh after, stale after, mark ('1' or ''),
 * V expiry flags, V version names as JSON strings.
 * Returns { status, entry or false, versions..., dirty }; status 0: servable entry, 1: lock taken,
 * 2: held by `ownToken`, 3: held by another owner, 4: dirty.
 */
export const LOOKUP_OR_LOCK = script(`${SERVER_TIME}${TAG_LIFETIME}${READ_OR_CREATE}${DIRTY}
local V = #KEYS - 5
local ENTRY_HEADER = '^3|%x+|([^|]*)|([^|]*)|[^|]*|([^\\n]*)\\n'
-- A hit first, in as few calls as possible: the entry, then the versions it recorded, read as they
-- are. Nothing is created, extended or checked for marks: an entry whose versions are all current
-- was stored by a fenced store after the last bump of each (a write's announcement bumps what it
-- marks, and stores refuse marked names), and a version key that expired fails the match and
-- takes the full path below, which re-creates it (the entry then misses, as it would there).
local entry = redis.call('GET', KEYS[1])
local fresh, stale, deps
if entry then
  fresh, stale, deps = string.match(entry, ENTRY_HEADER)
  fresh, stale = tonumber(fresh), tonumber(stale)
end
local timely = deps and fresh and stale and fresh > tonumber(ARGV[5]) and stale > tonumber(ARGV[6])
if timely then
  local hit = { 0, entry }
  local recorded = {}
  for i = 1, V do
    local version = redis.call('GET', KEYS[5 + i])
    if not version then break end
    hit[2 + i] = version
    recorded[i] = '[' .. ARGV[7 + V + i] .. ',' .. version .. ']'
  end
  if #recorded == V and deps == '[' .. table.concat(recorded, ',') .. ']' then
    hit[3 + V] = 0
    return hit
  end
end
local out = { 0, false }
local recorded = {}
local marked = 0
for i = 1, V do
  local version = readOrCreate(KEYS[5 + i], KEYS[2], KEYS[3], ARGV[1], ARGV[7 + i])
  out[2 + i] = version
  recorded[i] = '[' .. ARGV[7 + V + i] .. ',' .. version .. ']'
  if marked == 0 and dirty(KEYS[5 + i]) then marked = 1 end
end
out[3 + V] = marked
if marked == 1 then out[1] = 4 return out end
if entry then
  if timely and deps == '[' .. table.concat(recorded, ',') .. ']' then
    out[2] = entry
    return out
  end
  -- Not an entry of this format: return it anyway, for the caller to count and delete.
  if not (fresh and stale and deps) then out[2] = entry end
end
if redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3], 'NX') then out[1] = 1 return out end
if ARGV[4] ~= '' and redis.call('GET', KEYS[4]) == ARGV[4] then out[1] = 2 return out end
if ARGV[7] == '1' then redis.call('SET', KEYS[5], '1', 'PX', tonumber(ARGV[3]) * 2) end
out[1] = 3
return out
`);

/**
 * The current value of versions, created where absent (see READ_OR_CREATE): the Cluster's read
 * (where the entry lives in another slot than the versions) and the Bloom filter's. With a last
 * ARGV '1' (the Cluster's read), then whether a write in progress marked any of them dirty (1),
 * as LOOKUP says: the marks live in the versions' slot, so a read there still honours them.
 * KEYS: sequence key, tag lifetime key, version keys. ARGV: own tag lifetime ms, expiry flags[, '1'].
 */
export const READ_VERSIONS = script(`${SERVER_TIME}${TAG_LIFETIME}${READ_OR_CREATE}${DIRTY}
local out = {}
local marked = 0
local checkMarks = ARGV[#KEYS] == '1'
for i = 3, #KEYS do
  out[i - 2] = readOrCreate(KEYS[i], KEYS[1], KEYS[2], ARGV[1], ARGV[i - 1])
  if checkMarks and marked == 0 and dirty(KEYS[i]) then marked = 1 end
end
if checkMarks then out[#KEYS - 1] = marked end
return out
`);

/**
 * The lock holder's last step in one round trip: the fenced store, the release (owner only) and
 * the wake-up if anyone waits (see WAKE_WAITERS), so waiters read the value one round trip sooner.
 * KEYS: entry, lock, waited mark, version keys. ARGV: value, ttl ms, token, channel, landed message, expected versions.
 */
export const STORE_AND_RELEASE = script(`${SERVER_TIME}${DIRTY}${WAKE_WAITERS}
local stored = 1
for i = 4, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i + 2] or dirty(KEYS[i]) then stored = 0 break end
end
if stored == 1 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
wakeWaiters(KEYS[3], ARGV[4], ARGV[5])
return stored
`);

/**
 * A Bloom filter and the versions it was built at, in one read. Its bits only when it was built at
 * the current versions (a filter the reader may adopt): instances waiting for another's build look
 * several times a second, and each look would carry the whole old filter. Last, the server's time
 * (ms): a filter's age is read on Redis's clock, which dated it (see BLOOM_FINISH). Then whether
 * its builder held off while writes that suspended it were unsettled ('1': see BLOOM_FINISH); one
 * that did not (a builder of an earlier version) is not adopted, and sends no bits.
 * KEYS: meta, bits, `b:` version key, schema epoch's version key.
 */
export const BLOOM_LOAD = script(`${SERVER_TIME}
local meta = redis.call('HMGET', KEYS[1], 'm', 'k', 'built', 'at', 'rows', 'schema', 'settled')
local current, schemaNow = redis.call('GET', KEYS[3]) or '0', redis.call('GET', KEYS[4]) or '0'
local bits = ''
if meta[3] and tonumber(meta[3]) == tonumber(current) and tonumber(meta[6] or '0') == tonumber(schemaNow) and meta[7] == '1' then bits = redis.call('GET', KEYS[2]) or '' end
return { meta[1] or '', meta[2] or '', meta[3] or '', meta[4] or '', meta[5] or '', bits, current, meta[6] or '0', schemaNow, tostring((serverTime())), meta[7] or '' }
`);

/**
 * How long a write that may create identities of a model without naming them stays unsettled: the
 * latest lapse of a live mark on the model's Bloom version (`b:<Model>`), in ms from now (0: none).
 * Such a mark stands while a write that suspends the filter runs (raw SQL, a bulk create: its
 * confirmation bumps the version, so a filter built meanwhile is never adopted anyway) and, for
 * `lateCommitWindow`, after a write of unknown outcome or one swept as abandoned: that write may
 * still commit, after any scan of the table, and its rows would be missing from a filter built
 * meanwhile (outside probe 253: a create that committed 1 s after its client timed out read "not
 * found" on every instance until maxAge, an hour).
 */
const MARKED_FOR = `
local function markedFor(versionKey)
  local last = redis.call('ZRANGE', 'd' .. versionKey, 0, 0, 'REV', 'WITHSCORES')
  local left = last[2] and (tonumber(last[2]) - (serverTime())) or 0
  if left > 0 then return left end
  return 0
end
`;

/**
 * Opens a rebuild: an empty "next" filter that writers extend while the table is scanned, so a
 * record created during the scan is in the result. It expires if the builder dies. Only while
 * the builder holds the build lock (0 otherwise): one whose lock passed to another builder (it
 * stalled past the lock's lifetime) must not reset that one's filter. Not while a write that may
 * create identities unseen is unsettled (see MARKED_FOR): returns { 'marked', ms until it may }.
 * KEYS: next meta, next bits, build lock, the model's Bloom version key. ARGV: m, k, ttl ms, the lock's token.
 */
export const BLOOM_BEGIN = script(`${SERVER_TIME}${MARKED_FOR}
if redis.call('GET', KEYS[3]) ~= ARGV[4] then return 0 end
local marked = markedFor(KEYS[4])
if marked > 0 then return { 'marked', marked } end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'm', ARGV[1], 'k', ARGV[2])
redis.call('SETBIT', KEYS[2], tonumber(ARGV[1]) - 1, 0)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`);

/**
 * Keeps a rebuild's "next" filter while its builder holds the build lock (whose keep-alive extends
 * the lock alone): a scan longer than the lock's lifetime found it expired at the finish, and the
 * build was dropped, though its builder lived (outside probe 231: a 62 s scan, every time).
 * KEYS: next meta, next bits, build lock. ARGV: the lock's token, ttl ms.
 */
export const BLOOM_KEEP = script(`
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`);

/**
 * Closes a rebuild: merges the scanned bits into the "next" filter and makes it the live one.
 * Refuses (0) when a part is gone or short: the "next" filter expired (the rebuild outlived its
 * lock) or any of the three keys was evicted, which would publish a filter missing what that key
 * held (outside probe 135: scanned bits evicted before this ran made a filter of the creates
 * during the scan alone, and every existing row read "not found").
 * The live filter expires after ARGV[4] ms (twice its maxAge: it is distrusted and rebuilt at
 * maxAge anyway), so a database's filter does not outlive the database (outside probe 136).
 * Only while the builder holds the build lock (-1 otherwise, its scanned bits dropped): a builder
 * that stalled past the lock's lifetime and resumed published its old scan over the next builder's
 * filter, missing the records created meanwhile, or of another size (outside probe 228: 3 000 of
 * 3 000 existing rows "not found"). Each builder's scanned bits are a key of its own (KEYS[5]
 * names its lock token), and every part must be exactly the filter's size.
 * It is dated on Redis's clock, not the builder's: instances whose clocks disagree with the
 * builder's by s trusted it for maxAge + s (outside probe 234: a builder 10 minutes ahead, and
 * rows created outside the extension read "not found" for over 10 minutes).
 * Not while a write that may create identities unseen is unsettled (see MARKED_FOR): its commit may
 * have landed after the scan read past its row; returns { 'marked', ms until it may }, its scanned
 * bits dropped. The filter it publishes says so ('settled'): one an earlier version built — which
 * built through such writes — is rebuilt rather than adopted (outside probe 259: in a fleet mixing
 * the two, the new instances adopted an old one's filter built during the window, and every
 * instance answered "not found" for the late row until maxAge).
 * KEYS: next meta, next bits, live meta, live bits, scanned bits, build lock, the model's Bloom version key.
 * ARGV: built version, rows, schema epoch built at, lifetime ms, the lock's token.
 */
export const BLOOM_FINISH = script(`${SERVER_TIME}${MARKED_FOR}
if redis.call('GET', KEYS[6]) ~= ARGV[5] then
  redis.call('DEL', KEYS[5])
  return -1
end
local marked = markedFor(KEYS[7])
if marked > 0 then
  redis.call('DEL', KEYS[5])
  return { 'marked', marked }
end
local mk = redis.call('HMGET', KEYS[1], 'm', 'k')
local m = tonumber(mk[1] or '')
local bytes = m and math.ceil(m / 8)
if not bytes or redis.call('STRLEN', KEYS[2]) ~= bytes or redis.call('STRLEN', KEYS[5]) ~= bytes then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[5])
  return 0
end
redis.call('BITOP', 'OR', KEYS[2], KEYS[2], KEYS[5])
redis.call('DEL', KEYS[5])
redis.call('RENAME', KEYS[2], KEYS[4])
redis.call('PEXPIRE', KEYS[4], ARGV[4])
redis.call('DEL', KEYS[3], KEYS[1])
local at = serverTime()
redis.call('HSET', KEYS[3], 'm', mk[1], 'k', mk[2], 'built', ARGV[1], 'at', tostring(at), 'rows', ARGV[2], 'schema', ARGV[3], 'settled', '1')
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 1
`);

/**
 * Publishes from the node that holds the namespace's slot, as every bump does: on a Cluster a
 * message reaches other nodes' subscribers over the cluster bus, in order per node, so a message
 * sent this way arrives after every invalidation that node published before it. KEYS: any key of
 * the namespace (it only routes the call). ARGV: channel, message.
 */
export const PUBLISH_FROM_NAMESPACE_NODE = script(`
return redis.call('PUBLISH', ARGV[1], ARGV[2])
`);

/** Deletes a corrupt entry unless it was rewritten since it was read. KEYS: entry. ARGV: the text read. */
export const DELETE_IF_EQUAL = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
