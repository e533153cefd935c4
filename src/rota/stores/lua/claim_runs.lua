-- Take up to `limit` claimable runs: priority descending, then available_at,
-- then id; available_at <= now; a per-host run (host set) only for a claim
-- by that host; an exclusive run only while no run of its schedule is
-- running nor taken by this claim.
-- ARGV[3] now, [4] lease expiry, [5] worker, [6] limit, [7] 0 (no host) or
-- 1 followed by the claiming host, then -1 (every queue) or n followed by n
-- queue names, then a fresh random token prefix: the n-th run taken gets the
-- prefix followed by n as 8 hex digits (random per claim, unique per run).
-- Returns the claimed runs as JSON: [[field, value, …], …].
local now, expires, worker = ARGV[3], ARGV[4], ARGV[5]
local limit = tonumber(ARGV[6])
local hosts, queues_at = take(7)
local host = hosts[1]
local allowed = nil
local tokens_at = queues_at + 1
if tonumber(ARGV[queues_at]) >= 0 then
  local queues
  queues, tokens_at = take(queues_at)
  allowed = {}
  for _, q in ipairs(queues) do allowed[q] = true end
end
local batch = math.max(limit * 2, 32)

-- One source per ready zset of a priority level: paged reads of the runs
-- available by now, oldest first.
local function head(s)
  if s.pos > #s.buf then
    if s.done then return nil end
    local got = redis.call('ZRANGE', s.key, '-inf', now, 'BYSCORE', 'LIMIT', s.off, batch,
                           'WITHSCORES')
    s.buf, s.pos = {}, 1
    for k = 1, #got, 2 do s.buf[#s.buf + 1] = { got[k], tonumber(got[k + 1]) } end
    s.off = s.off + #s.buf
    s.done = #s.buf < batch
    if #s.buf == 0 then return nil end
  end
  return s.buf[s.pos]
end

-- The source whose head comes first by (available_at, id), or nil.
local function first(sources)
  local best, best_head = nil, nil
  for _, s in ipairs(sources) do
    local h = head(s)
    if h and (not best_head or h[2] < best_head[2]
              or (h[2] == best_head[2] and bytes_lt(h[1], best_head[1]))) then
      best, best_head = s, h
    end
  end
  return best, best_head
end

-- The runs to take, each with what claiming it needs: its ready zset and level,
-- its schedule, and its hash as read (one HGETALL: `consider` decides from it,
-- and the claimed record is that hash with the claim's fields written over).
local picked, taken = {}, {}
local function consider(id, source)
  local record = redis.call('HGETALL', run_key(id))
  local at = {}
  for k = 1, #record, 2 do at[record[k]] = k + 1 end
  local state = at.state and record[at.state]
  if not CLAIMABLE[state] then return end
  if at.host and record[at.host] ~= host then return end
  local schedule = at.schedule and record[at.schedule]
  if schedule then
    if at.exclusive and record[at.exclusive] == '1' and (taken[schedule]
        or tonumber(redis.call('HGET', B .. 'running_sched', schedule) or '0') > 0) then
      return
    end
    taken[schedule] = true
  end
  picked[#picked + 1] = { id = id, source = source, schedule = schedule, record = record,
                          at = at }
end

local levels = redis.call('ZRANGE', B .. 'levels', '+inf', '-inf', 'BYSCORE', 'REV', 'WITHSCORES')
local k = 1
while k <= #levels and #picked < limit do
  local score, sources = levels[k + 1], {}
  while k <= #levels and levels[k + 1] == score do
    local priority, queue = string.match(levels[k], '^(-?%d+):(.*)$')
    if not allowed or allowed[queue] then
      sources[#sources + 1] = { key = ready_key(priority, queue), level = levels[k], buf = {},
                                pos = 1, off = 0 }
    end
    k = k + 2
  end
  while #picked < limit do
    local s, h = first(sources)
    if not s then break end
    s.pos = s.pos + 1
    consider(h[1], s)
  end
end

-- Each run becomes running as `apply` would make it, in fewer calls: what it
-- reads was read by `consider`, and a claimable run moves only from its ready
-- zset to `running` (its active:<schedule> entry stays: running is active too;
-- it has no TTL, not being finished). A ready zset left empty leaves `levels`.
-- The ready zsets and `running` change with one variadic call each.
local CLAIM_FIELDS = { 'state', 'attempt', 'rev', 'lease_token', 'lease_expires_at',
                       'started_at', 'worker', 'cancel_requested' }
local prefix = ARGV[tokens_at]
local out, touched, running = {}, {}, {}
for n, p in ipairs(picked) do
  local id, record, at = p.id, p.record, p.at
  local attempt = at.attempt and tonumber(record[at.attempt]) or 0
  local rev = at.rev and tonumber(record[at.rev]) or 0
  local values = { 'running', tostring(attempt + 1), tostring(rev + 1),
                   prefix .. string.format('%08x', n), expires, now, worker, '0' }
  local sets = {}
  for k, field in ipairs(CLAIM_FIELDS) do
    sets[#sets + 1] = field
    sets[#sets + 1] = values[k]
    local i = at[field]
    if i then
      record[i] = values[k]
    else
      record[#record + 1] = field
      record[#record + 1] = values[k]
    end
  end
  redis.call('HSET', run_key(id), unpack(sets))
  local source = p.source
  if not source.taken then
    source.taken = {}
    touched[#touched + 1] = source
  end
  source.taken[#source.taken + 1] = id
  running[#running + 1] = expires
  running[#running + 1] = id
  if p.schedule then redis.call('HINCRBY', B .. 'running_sched', p.schedule, 1) end
  out[n] = record
end
variadic('ZADD', B .. 'running', running)
for _, source in ipairs(touched) do
  variadic('ZREM', source.key, source.taken)
  if redis.call('EXISTS', source.key) == 0 then redis.call('ZREM', B .. 'levels', source.level) end
end
return records(out)
