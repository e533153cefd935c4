-- Delete a schedule's finished runs beyond the newest `keep` of them.
-- ARGV[3] schedule, [4] keep. Also drops, from the oldest end of the run
-- indexes, up to SWEEP ids whose run expired (TTL) since it was indexed.
-- Returns how many runs were deleted.
local schedule, keep = ARGV[3], tonumber(ARGV[4])
local SWEEP = 100
local done_key, sched_key = B .. 'done:' .. schedule, B .. 'sched:' .. schedule
local deleted = 0
for _, id in ipairs(redis.call('ZRANGE', done_key, 0, -(keep + 1))) do
  local state = redis.call('HGET', run_key(id), 'state')
  if state and TERMINAL[state] then
    redis.call('UNLINK', run_key(id))
    deleted = deleted + 1
  end
  if not state or TERMINAL[state] then
    redis.call('ZREM', done_key, id)
    redis.call('ZREM', sched_key, id)
    redis.call('ZREM', B .. 'runs', id)
  end
end
for _, key in ipairs({ done_key, sched_key, B .. 'runs' }) do
  for _, id in ipairs(redis.call('ZRANGE', key, 0, SWEEP - 1)) do
    if redis.call('EXISTS', run_key(id)) == 0 then redis.call('ZREM', key, id) end
  end
end
return deleted
