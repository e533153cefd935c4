-- The earliest available_at of a claimable run in the given queues that a
-- claim by the given host may take (a per-host run only by its own host),
-- or nil.
-- ARGV[3] 0 (no host) or 1 followed by the host, then -1 (every queue) or n
-- followed by n queue names.
local hosts, queues_at = take(3)
local host = hosts[1]
local allowed = nil
if tonumber(ARGV[queues_at]) >= 0 then
  allowed = {}
  for _, q in ipairs(take(queues_at)) do allowed[q] = true end
end
local batch = 64

-- The score of the first run of a ready zset that this host may take. Runs
-- of one queue nearly always share one host (a per-host run's queue is
-- "<queue>@<host>"), so the first run usually decides.
local function earliest(key)
  local off = 0
  while true do
    local got = redis.call('ZRANGE', key, off, off + batch - 1, 'WITHSCORES')
    for k = 1, #got, 2 do
      local owner = redis.call('HGET', run_key(got[k]), 'host')
      if not owner or owner == host then return got[k + 1] end
    end
    if #got < 2 * batch then return nil end
    off = off + batch
  end
end

local best = nil
for _, level in ipairs(redis.call('ZRANGE', B .. 'levels', 0, -1)) do
  local priority, queue = string.match(level, '^(-?%d+):(.*)$')
  if not allowed or allowed[queue] then
    local h = earliest(ready_key(priority, queue))
    if h and (not best or tonumber(h) < tonumber(best)) then best = h end
  end
end
return best
