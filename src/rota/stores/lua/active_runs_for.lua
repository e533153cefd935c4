-- The queued, retrying and running runs of each schedule named in ARGV[3]
-- (a JSON array of names: one argument rather than a thousand, which cost
-- the client more to send than the script to read), schedule by schedule,
-- each in its active:<schedule> order (created_at, id). Members whose run
-- is gone are dropped from the index.
-- Returns the records as JSON: [[field, value, …], …].
local out = {}
for _, name in ipairs(cjson.decode(ARGV[3])) do
  local key = B .. 'active:' .. name
  for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    local record = redis.call('HGETALL', run_key(id))
    if #record == 0 then
      redis.call('ZREM', key, id)
    else
      out[#out + 1] = record
    end
  end
end
return records(out)
