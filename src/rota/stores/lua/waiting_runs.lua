-- The waiting runs among the ids in ARGV[5..] or that list one of them among
-- their parents (ARGV[3] '1'), or every waiting run (ARGV[3] '0'); by id, at
-- most ARGV[4]. Reads the `waiting` and `waiters:<parent>` indexes, never
-- every run; an id whose run is gone or not waiting is dropped from `waiting`.
-- Returns the records as JSON: [[field, value, …], …].
local some, limit = ARGV[3] == '1', tonumber(ARGV[4])
-- No run waits (what a queue without dependencies always finds, after every
-- finish): nothing to look up.
if redis.call('EXISTS', B .. 'waiting') == 0 then return '[]' end
local ids = {}
if some then
  local seen = {}
  local function add(id)
    if not seen[id] then
      seen[id] = true
      ids[#ids + 1] = id
    end
  end
  for k = 5, #ARGV do
    local id = ARGV[k]
    if redis.call('ZSCORE', B .. 'waiting', id) then add(id) end
    for _, child in ipairs(redis.call('ZRANGE', B .. 'waiters:' .. id, 0, -1)) do add(child) end
  end
  table.sort(ids, bytes_lt)
end
local out, removed = {}, 0
-- The record of `id` if it is waiting; else nil, and the id leaves `waiting`
-- (its run is gone: rota never deletes a waiting run, but keys may be lost).
local function read(id)
  local record = redis.call('HGETALL', run_key(id))
  for k = 1, #record, 2 do
    if record[k] == 'state' then
      if record[k + 1] == 'waiting' then out[#out + 1] = record return end
      break
    end
  end
  removed = removed + redis.call('ZREM', B .. 'waiting', id)
end
if some then
  for _, id in ipairs(ids) do
    if #out >= limit then break end
    read(id)
  end
else
  local off, batch = 0, math.max(limit, 64)
  while #out < limit do
    local got = redis.call('ZRANGE', B .. 'waiting', off, off + batch - 1)
    removed = 0
    for _, id in ipairs(got) do
      if #out >= limit then break end
      read(id)
    end
    if #got < batch then break end
    off = off + #got - removed
  end
end
return records(out)
