-- Insert each run only if its id is absent: the exactly-once constraint.
-- ARGV[3]: a JSON array with one array per run, its fields and values as
-- text, "id" first: [["id", "r1", "job", "j", …], …] (one argument, not
-- thousands: packing and parsing that many arguments costs more than JSON).
-- Returns one character per run, in order: '1' inserted, '0' already there (one
-- text: quicker to read than a thousand integer replies).
local out, woke, seen = {}, false, {}
for n, fields in ipairs(cjson.decode(ARGV[3])) do
  local id = fields[2]
  local key = run_key(id)
  if redis.call('EXISTS', key) == 1 then
    out[n] = '0'
  else
    redis.call('HSET', key, unpack(fields))
    local r = {}
    for k = 1, #fields, 2 do r[fields[k]] = fields[k + 1] end
    redis.call('ZADD', B .. 'runs', r.created_at, id)
    if r.schedule then redis.call('ZADD', B .. 'sched:' .. r.schedule, r.created_at, id) end
    index(id, r, seen)
    if TERMINAL[r.state] and TTL > 0 then redis.call('EXPIRE', key, TTL) end
    out[n], woke = '1', true
  end
end
if woke then wake() end
return table.concat(out)
