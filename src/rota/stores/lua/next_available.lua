-- The earliest available_at of a claimable run (in the given queues), or nil.
-- ARGV[3] -1 (every queue) or n followed by n queue names.
local allowed = nil
if tonumber(ARGV[3]) >= 0 then
  allowed = {}
  for _, q in ipairs(take(3)) do allowed[q] = true end
end
local best = nil
for _, level in ipairs(redis.call('ZRANGE', B .. 'levels', 0, -1)) do
  local priority, queue = string.match(level, '^(-?%d+):(.*)$')
  if not allowed or allowed[queue] then
    local h = redis.call('ZRANGE', ready_key(priority, queue), 0, 0, 'WITHSCORES')
    if h[2] and (not best or tonumber(h[2]) < tonumber(best)) then best = h[2] end
  end
end
return best
