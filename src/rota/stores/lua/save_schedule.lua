-- Write a schedule if its stored version is the expected one.
-- ARGV[3] name, [4] expected version ('' : must not exist), [5] '1' if
-- retired, [6] '1' if per-host (on_each_server), [7] next_due when the
-- schedule fires (active, next_due set) else '', then n and n items of
-- fields to set, then n and n fields to delete.
-- Returns the new version, or nil on conflict.
local name, expected, retired, per_host, due = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = B .. 'schedule:' .. name
local current = redis.call('HGET', key, 'version')
local version
if expected == '' then
  if current then return false end
  version = 1
else
  if current ~= expected then return false end
  version = tonumber(current) + 1
end
local sets, i = take(8)
local dels = take(i)
redis.call('HSET', key, 'version', version, unpack(sets))
if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end
redis.call('ZADD', B .. 'schedules', 0, name)
if retired == '1' then
  redis.call('ZREM', B .. 'schedules:live', name)
else
  redis.call('ZADD', B .. 'schedules:live', 0, name)
end
-- The per-host schedules (all, and those not retired) have indexes of their
-- own, so that listing them never reads the others.
if per_host == '1' then
  redis.call('ZADD', B .. 'schedules:per_host', 0, name)
  if retired == '1' then
    redis.call('ZREM', B .. 'schedules:per_host:live', name)
  else
    redis.call('ZADD', B .. 'schedules:per_host:live', 0, name)
  end
else
  redis.call('ZREM', B .. 'schedules:per_host', name)
  redis.call('ZREM', B .. 'schedules:per_host:live', name)
end
if due == '' then
  redis.call('ZREM', B .. 'due', name)
else
  redis.call('ZADD', B .. 'due', due, name)
end
wake()
return version
