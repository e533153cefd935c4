-- Shared by every rota script: prepended to each one when it is loaded.
--
-- ARGV[1] is the key base "{prefix}:" (every key shares the hash tag, so a
-- script touches one cluster slot); ARGV[2] is the TTL in seconds given to
-- finished runs (0: none). KEYS[1] is "{prefix}:runs", which routes the
-- script to the slot's node. Time always arrives as an argument (integer
-- microseconds since the epoch, as decimal text): no script reads TIME.

local B = ARGV[1]
local TTL = tonumber(ARGV[2])
-- 'SPUBLISH' (sharded pub/sub) when the store talks to a Redis Cluster: the
-- store swaps this line when it loads the scripts.
local PUBLISH = 'PUBLISH'

local TERMINAL = {
  succeeded = true, failed = true, timed_out = true, cancelled = true,
  skipped = true, missed = true, upstream_failed = true,
}
local CLAIMABLE = { queued = true, retrying = true }
local ACTIVE = { queued = true, retrying = true, running = true }

local VIEW = { 'state', 'queue', 'priority', 'available_at', 'schedule', 'created_at',
               'lease_expires_at', 'parents' }

local function run_key(id) return B .. 'run:' .. id end
local function ready_key(priority, queue) return B .. 'ready:' .. priority .. ':' .. queue end

-- Byte-wise "a < b", as Redis orders members; Lua's own "<" follows the locale.
local function bytes_lt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- The fields of a run that decide which indexes hold it; nil if absent.
local function view(id)
  local v = redis.call('HMGET', run_key(id), unpack(VIEW))
  if not v[1] then return nil end
  return { state = v[1], queue = v[2], priority = v[3], available_at = v[4],
           schedule = v[5], created_at = v[6], lease_expires_at = v[7], parents = v[8] }
end

-- A waiting run is in `waiting` (every waiting run id, score 0: by id) and in
-- `waiters:<parent>` for each of its parents (what waiting_runs(ids) reads).
local function parents_of(r)
  if not r.parents or r.parents == '[]' or r.parents == '' then return {} end
  return cjson.decode(r.parents)
end

local function index_waiting(id, r)
  redis.call('ZADD', B .. 'waiting', 0, id)
  for _, parent in ipairs(parents_of(r)) do
    redis.call('ZADD', B .. 'waiters:' .. parent, 0, id)
  end
end

local function unindex_waiting(id, r)
  redis.call('ZREM', B .. 'waiting', id)
  for _, parent in ipairs(parents_of(r)) do
    redis.call('ZREM', B .. 'waiters:' .. parent, id)
  end
end

local function unindex(id, r)
  if CLAIMABLE[r.state] then
    local key = ready_key(r.priority, r.queue)
    redis.call('ZREM', key, id)
    if redis.call('EXISTS', key) == 0 then
      redis.call('ZREM', B .. 'levels', r.priority .. ':' .. r.queue)
    end
  elseif r.state == 'running' then
    redis.call('ZREM', B .. 'running', id)
    if r.schedule and redis.call('HINCRBY', B .. 'running_sched', r.schedule, -1) <= 0 then
      redis.call('HDEL', B .. 'running_sched', r.schedule)
    end
  elseif r.state == 'waiting' then
    unindex_waiting(id, r)
  end
  if r.schedule then
    if ACTIVE[r.state] then
      redis.call('ZREM', B .. 'active:' .. r.schedule, id)
    elseif TERMINAL[r.state] then
      redis.call('ZREM', B .. 'done:' .. r.schedule, id)
    end
  end
end

-- Add run `id` (its view `r`) to the indexes its state and schedule call for
-- (insert_all does the same for new runs, batching what it can).
local function index(id, r)
  if CLAIMABLE[r.state] then
    redis.call('ZADD', ready_key(r.priority, r.queue), r.available_at, id)
    redis.call('ZADD', B .. 'levels', r.priority, r.priority .. ':' .. r.queue)
  elseif r.state == 'running' then
    redis.call('ZADD', B .. 'running', r.lease_expires_at or '0', id)
    if r.schedule then redis.call('HINCRBY', B .. 'running_sched', r.schedule, 1) end
  elseif r.state == 'waiting' then
    index_waiting(id, r)
  end
  if r.schedule then
    if ACTIVE[r.state] then
      redis.call('ZADD', B .. 'active:' .. r.schedule, r.created_at, id)
    elseif TERMINAL[r.state] then
      redis.call('ZADD', B .. 'done:' .. r.schedule, r.created_at, id)
    end
  end
end

-- Set and delete fields of an existing run, bump its revision, move it
-- between indexes, and give a finished run its TTL (or take it away).
local function apply(id, sets, dels)
  local key = run_key(id)
  local old = view(id)
  if #sets > 0 then redis.call('HSET', key, unpack(sets)) end
  if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end
  redis.call('HINCRBY', key, 'rev', 1)
  local new = view(id)
  unindex(id, old)
  index(id, new)
  if TERMINAL[new.state] then
    if TTL > 0 then redis.call('EXPIRE', key, TTL) end
  elseif TERMINAL[old.state] then
    redis.call('PERSIST', key)
  end
  return new
end

-- End the attempt `token` holds on run `id` (finish_run and finish_runs):
-- set and delete the fields rota.stores._redis_codec.finish_args computed
-- (always 'state'; 'available_at' for a run to retry or release), give the
-- attempt back if asked, bump the revision, move the run between indexes.
-- One read of the run: the new index view is the old one with the sets, and
-- the revision (and attempt) go with the sets. `gone` (optional) collects the
-- ids to take out of `running`, for the caller to do in one call.
-- Returns 1 or 0 (the token does not hold the run); whether the finish
-- may give a worker something to claim: the run is claimable again, or it
-- was its schedule's last running run while others of the schedule wait
-- (an exclusive one may now start); and whether some run waits for it.
local FINISH_VIEW = { 'state', 'lease_token', 'attempt', 'queue', 'priority', 'available_at',
                      'schedule', 'created_at', 'rev' }
local function finish(id, token, give_back, sets, dels, gone)
  local key = run_key(id)
  local f = redis.call('HMGET', key, unpack(FINISH_VIEW))
  if f[1] ~= 'running' or f[2] ~= token then return 0, false, false end
  local state, available_at, schedule = nil, f[6], f[7]
  for k = 1, #sets, 2 do
    if sets[k] == 'state' then state = sets[k + 1]
    elseif sets[k] == 'available_at' then available_at = sets[k + 1] end
  end
  local attempt = tonumber(f[3]) or 0
  sets[#sets + 1] = 'rev'
  sets[#sets + 1] = tostring((tonumber(f[9]) or 0) + 1)
  if give_back and attempt > 0 then
    sets[#sets + 1] = 'attempt'
    sets[#sets + 1] = tostring(attempt - 1)
  end
  redis.call('HSET', key, unpack(sets))
  if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end
  if gone then gone[#gone + 1] = id else redis.call('ZREM', B .. 'running', id) end
  local waited = redis.call('EXISTS', B .. 'waiters:' .. id) == 1
  local freed = false
  if schedule and redis.call('HINCRBY', B .. 'running_sched', schedule, -1) <= 0 then
    redis.call('HDEL', B .. 'running_sched', schedule)
    freed = true
  end
  if CLAIMABLE[state] then
    -- Still active: its entry in active:<schedule> stays as it is.
    redis.call('ZADD', ready_key(f[5], f[4]), available_at, id)
    redis.call('ZADD', B .. 'levels', f[5], f[5] .. ':' .. f[4])
    return 1, true, waited
  end
  if schedule then
    redis.call('ZREM', B .. 'active:' .. schedule, id)
    redis.call('ZADD', B .. 'done:' .. schedule, f[8], id)
  end
  if TTL > 0 then redis.call('EXPIRE', key, TTL) end
  return 1, freed and redis.call('ZCARD', B .. 'active:' .. schedule) > 0, waited
end

-- Record the scheduler's progress on schedule `name` if its version is
-- `expected` (advance_schedule and advance_schedules); '' clears a time.
-- `due` (optional): a batch from due_batch(), which takes the schedule's
-- change to the `due` index, for due_flush() to make (one ZADD for the lot)
-- instead of a call here. Returns 1, or 0 on conflict.
local function advance(name, expected, last_slot, next_due, due)
  local key = B .. 'schedule:' .. name
  local f = redis.call('HMGET', key, 'version', 'paused', 'retired')
  if f[1] ~= expected then return 0 end
  -- One HSET (the version with the times) and at most one HDEL, no tables.
  local version = string.format('%d', tonumber(expected) + 1)
  if last_slot == '' then
    if next_due == '' then
      redis.call('HSET', key, 'version', version)
      redis.call('HDEL', key, 'last_slot', 'next_due')
    else
      redis.call('HSET', key, 'version', version, 'next_due', next_due)
      redis.call('HDEL', key, 'last_slot')
    end
  elseif next_due == '' then
    redis.call('HSET', key, 'version', version, 'last_slot', last_slot)
    redis.call('HDEL', key, 'next_due')
  else
    redis.call('HSET', key, 'version', version, 'last_slot', last_slot, 'next_due', next_due)
  end
  local score = next_due ~= '' and f[2] == '0' and f[3] == '0' and next_due or false
  if due then
    if due.score[name] == nil then due.names[#due.names + 1] = name end
    due.score[name] = score
  elseif score then
    redis.call('ZADD', B .. 'due', score, name)
  else
    redis.call('ZREM', B .. 'due', name)
  end
  return 1
end

-- Add `name` to the schedule index `index` (its key after the prefix) if
-- `member`, else remove it from there.
local function schedule_indexed(index, name, member)
  if member then
    redis.call('ZADD', B .. index, 0, name)
  else
    redis.call('ZREM', B .. index, name)
  end
end

-- Write schedule `name` if its stored version is `expected` ('' : it must not
-- exist yet) (save_schedule and insert_schedules): `retired` and `per_host`
-- '1' or '0', `due` its next_due when it fires (active, next_due set) else '',
-- `sets` the fields to set (field, value, …), `dels` the fields to delete.
-- Returns the new version, or nil on conflict. Does not PUBLISH.
local function save_schedule(name, expected, retired, per_host, due, sets, dels)
  local key = B .. 'schedule:' .. name
  local current = redis.call('HGET', key, 'version')
  local version
  if expected == '' then
    if current then return nil end
    version = 1
  else
    if current ~= expected then return nil end
    version = tonumber(current) + 1
  end
  redis.call('HSET', key, 'version', version, unpack(sets))
  if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end
  local live = retired ~= '1'
  redis.call('ZADD', B .. 'schedules', 0, name)
  schedule_indexed('schedules:live', name, live)
  -- The per-host schedules (all, and those not retired) have indexes of their
  -- own, so that listing them never reads the others.
  schedule_indexed('schedules:per_host', name, per_host == '1')
  schedule_indexed('schedules:per_host:live', name, per_host == '1' and live)
  if due == '' then
    redis.call('ZREM', B .. 'due', name)
  else
    redis.call('ZADD', B .. 'due', due, name)
  end
  return version
end

-- `command` (ZADD, ZREM) on `key` with `items`, in slices: unpack has a
-- limit on how many values it returns.
local function variadic(command, key, items)
  for i = 1, #items, 2000 do
    redis.call(command, key, unpack(items, i, math.min(i + 1999, #items)))
  end
end

-- Members to add to zsets that many runs of a batch share (`runs`, the
-- ready zsets, `running`, `waiting`): added by one ZADD per zset at the end
-- (add_flush) rather than one per run.
local function add_batch() return { keys = {}, items = {} } end
local function add_later(adds, key, score, member)
  local items = adds.items[key]
  if not items then
    items = {}
    adds.items[key] = items
    adds.keys[#adds.keys + 1] = key
  end
  items[#items + 1] = score
  items[#items + 1] = member
end
local function add_flush(adds)
  for _, key in ipairs(adds.keys) do variadic('ZADD', key, adds.items[key]) end
end

-- Insert each run of `batch` (insert_runs.lua's JSON text, built by
-- rota.stores._redis_codec.insert_batch) only if its id is absent: the
-- exactly-once constraint (insert_runs and fire). The batch is
-- [shapes, runs]: a shape is the [field, value, …] that runs share (job,
-- state, queue, options, created_at, …: most of a run, the same for a tick's
-- runs), a run is [its shape's place, id, schedule or false, slot or false,
-- available_at, args, kwargs, parents] (what differs from run to run). A run's
-- hash is its shape's fields and its own. Returns one
-- character per run, as one text: '1' inserted, '0' already there; and
-- whether some run was inserted (the caller PUBLISHes).
local function insert_all(batch)
  local data = cjson.decode(batch)
  local shapes, runs = data[1], data[2]
  local views = {}
  for k, shape in ipairs(shapes) do
    local v = {}
    for i = 1, #shape, 2 do v[shape[i]] = shape[i + 1] end
    views[k] = v
  end
  local out, woke, levels, adds = {}, false, {}, add_batch()
  for n, run in ipairs(runs) do
    local id = run[2]
    local key = run_key(id)
    if redis.call('EXISTS', key) == 1 then
      out[n] = '0'
    else
      local shape, v = shapes[run[1]], views[run[1]]
      local schedule, available_at, parents = run[3], run[5], run[8]
      local own = { 'id', id, 'available_at', available_at, 'args', run[6], 'kwargs', run[7],
                    'parents', parents }
      if schedule then
        own[11], own[12] = 'schedule', schedule
      end
      if run[4] then
        local m = #own
        own[m + 1], own[m + 2] = 'slot', run[4]
      end
      -- Two HSETs rather than one of a table joining both: building that table
      -- costs the script more than the second call.
      redis.call('HSET', key, unpack(shape))
      redis.call('HSET', key, unpack(own))
      -- The indexes of a new run, as index() makes them.
      local state, created_at = v.state, v.created_at
      add_later(adds, B .. 'runs', created_at, id)
      if schedule then redis.call('ZADD', B .. 'sched:' .. schedule, created_at, id) end
      if CLAIMABLE[state] then
        local level = v.priority .. ':' .. v.queue
        add_later(adds, B .. 'ready:' .. level, available_at, id)
        if not levels[level] then
          redis.call('ZADD', B .. 'levels', v.priority, level)
          levels[level] = true
        end
      elseif state == 'running' then
        add_later(adds, B .. 'running', v.lease_expires_at or '0', id)
        if schedule then redis.call('HINCRBY', B .. 'running_sched', schedule, 1) end
      elseif state == 'waiting' then
        add_later(adds, B .. 'waiting', 0, id)
        for _, parent in ipairs(parents_of({ parents = parents })) do
          redis.call('ZADD', B .. 'waiters:' .. parent, 0, id)
        end
      end
      if schedule then
        if ACTIVE[state] then
          redis.call('ZADD', B .. 'active:' .. schedule, created_at, id)
        elseif TERMINAL[state] then
          redis.call('ZADD', B .. 'done:' .. schedule, created_at, id)
        end
      end
      if TERMINAL[state] and TTL > 0 then redis.call('EXPIRE', key, TTL) end
      out[n], woke = '1', true
    end
  end
  add_flush(adds)
  return table.concat(out), woke
end

-- The `due` index changes of a batch of advances: each schedule's last one
-- (its next_due, or false to leave the index), made by due_flush with one
-- ZADD and one ZREM.
local function due_batch() return { names = {}, score = {} } end
local function due_flush(due)
  local add, rem = {}, {}
  for _, name in ipairs(due.names) do
    local score = due.score[name]
    if score then
      add[#add + 1] = score
      add[#add + 1] = name
    else
      rem[#rem + 1] = name
    end
  end
  variadic('ZADD', B .. 'due', add)
  variadic('ZREM', B .. 'due', rem)
end

-- advance() for each item of `batch` (advance_schedules.lua's JSON text), in
-- order: an item sees what the ones before it did (advance_schedules and
-- fire). Returns one character per item, as one text: '1' advanced, '0' conflict.
local function advance_all(batch)
  local out, due = {}, due_batch()
  for n, a in ipairs(cjson.decode(batch)) do
    out[n] = advance(a[1], a[2], a[3], a[4], due) == 1 and '1' or '0'
  end
  due_flush(due)
  return table.concat(out)
end

-- Reads "n, then n items" from ARGV at i; returns the items and the next index.
local function take(i)
  local n = tonumber(ARGV[i])
  local items = {}
  for j = i + 1, i + n do items[#items + 1] = ARGV[j] end
  return items, i + n + 1
end

local function wake() redis.call(PUBLISH, B .. 'wakeup', '') end

-- Records (flat HGETALL arrays) go back as one JSON text, which the client
-- parses in C instead of reading dozens of replies per record.
local function records(list)
  if #list == 0 then return '[]' end
  return cjson.encode(list)
end

-- end of _lib.lua
