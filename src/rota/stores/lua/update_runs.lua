-- Compare-and-set whole runs by revision (reclaim, cancel, requeue: the
-- new fields are computed by rota.stores._rules, shared by every backend).
-- ARGV[3..]: per run, its id, the revision read, then n and n items of
-- fields to set, then n and n fields to delete.
-- Returns one 1 (written) or 0 (changed since it was read) per run.
local out = {}
local i = 3
while i <= #ARGV do
  local id, rev = ARGV[i], ARGV[i + 1]
  local sets, dels
  sets, i = take(i + 2)
  dels, i = take(i)
  local current = redis.call('HGET', run_key(id), 'rev')
  if current and current == rev then
    apply(id, sets, dels)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
for _, written in ipairs(out) do
  if written == 1 then wake() break end
end
return out
