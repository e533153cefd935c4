-- Remove a schedule (its runs stay, as history). ARGV[3] name.
-- Returns 1, or 0 when there was none.
local name = ARGV[3]
if redis.call('DEL', B .. 'schedule:' .. name) == 0 then return 0 end
redis.call('ZREM', B .. 'schedules', name)
redis.call('ZREM', B .. 'schedules:live', name)
redis.call('ZREM', B .. 'schedules:per_host', name)
redis.call('ZREM', B .. 'schedules:per_host:live', name)
redis.call('ZREM', B .. 'due', name)
wake()
return 1
