-- The runs with the ids in ARGV[3..] that exist, in that order.
-- Returns the records as JSON: [[field, value, …], …].
local out = {}
for k = 3, #ARGV do
  local record = redis.call('HGETALL', run_key(ARGV[k]))
  if #record > 0 then out[#out + 1] = record end
end
return records(out)
