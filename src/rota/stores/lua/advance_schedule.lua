-- Record the scheduler's progress if the version still matches.
-- ARGV[3] name, [4] expected version, [5] last_slot or '', [6] next_due or ''.
-- Returns 1, or 0 on conflict.
local name, expected, last_slot, next_due = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local key = B .. 'schedule:' .. name
local f = redis.call('HMGET', key, 'version', 'paused', 'retired')
if f[1] ~= expected then return 0 end
for field, value in pairs({ last_slot = last_slot, next_due = next_due }) do
  if value == '' then
    redis.call('HDEL', key, field)
  else
    redis.call('HSET', key, field, value)
  end
end
redis.call('HINCRBY', key, 'version', 1)
if next_due ~= '' and f[2] == '0' and f[3] == '0' then
  redis.call('ZADD', B .. 'due', next_due, name)
else
  redis.call('ZREM', B .. 'due', name)
end
return 1
