-- Move a waiting run on, if it is still waiting (compare-and-set on its state).
-- ARGV[3] run id, [4] 'queued' (available at now) or 'upstream_failed'
-- (finished at now, with the error), [5] now, [6] '1' when an error is given,
-- [7] the error.
-- Returns the run as stored after the change (JSON [[field, value, …]]), or
-- nil when it is absent or no longer waiting. PUBLISHes when it queues it.
local id, state, now = ARGV[3], ARGV[4], ARGV[5]
if redis.call('HGET', run_key(id), 'state') ~= 'waiting' then return false end
if state == 'queued' then
  apply(id, { 'state', 'queued', 'available_at', now }, {})
  wake()
else
  local sets = { 'state', 'upstream_failed', 'finished_at', now }
  local dels = {}
  if ARGV[6] == '1' then
    sets[#sets + 1] = 'error'
    sets[#sets + 1] = ARGV[7]
  else
    dels[1] = 'error'
  end
  apply(id, sets, dels)
end
return records({ redis.call('HGETALL', run_key(id)) })
