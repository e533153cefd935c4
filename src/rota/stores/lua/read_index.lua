-- The records an index names, in its order: ZRANGE key min max [BY…] [LIMIT].
-- ARGV[3] index key (after the base), [4] record key prefix ('run:' or
-- 'schedule:'), [5] min, [6] max, [7] 'BYSCORE', 'BYLEX' or 'BYRANK',
-- [8] limit (-1: all). Members whose record is gone are dropped from the index.
-- Returns the records as JSON: [[field, value, …], …].
local key, prefix, min, max, by, limit = B .. ARGV[3], B .. ARGV[4], ARGV[5], ARGV[6], ARGV[7],
  ARGV[8]
local ids
if by == 'BYRANK' then
  ids = redis.call('ZRANGE', key, min, max)
else
  ids = redis.call('ZRANGE', key, min, max, by, 'LIMIT', 0, limit)
end
local out = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGETALL', prefix .. id)
  if #record == 0 then
    redis.call('ZREM', key, id)
  else
    out[#out + 1] = record
  end
end
return records(out)
