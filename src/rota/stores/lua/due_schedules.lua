-- The schedules due by ARGV[3] (next_due <= it, in microseconds), at most
-- ARGV[4], by next_due then name. A name whose record is gone leaves `due`.
-- Returns one JSON text, a list with one list per schedule: [name, job, spec,
-- created_at, updated_at, source, paused, retired, last_slot, next_due,
-- version, per_host]. The spec goes in as stored, JSON itself rather than a
-- string (the client parses it once); numbers as stored, absent ones null.
local FIELDS = { 'name', 'job', 'spec', 'created_at', 'updated_at', 'source', 'paused',
                 'retired', 'last_slot', 'next_due', 'version', 'per_host' }
local encode = cjson.encode
local function num(v) return v or 'null' end
-- A JSON string: quoted as is unless it holds a quote, a backslash or a control
-- character (what names, jobs and sources hardly ever do), else cjson's.
local function text(v)
  if not v then return 'null' end
  if string.find(v, '[%c"\\]') then return encode(v) end
  return '"' .. v .. '"'
end
local due = B .. 'due'
local out = {}
for _, name in ipairs(redis.call('ZRANGE', due, '-inf', ARGV[3], 'BYSCORE', 'LIMIT', 0, ARGV[4])) do
  local f = redis.call('HMGET', B .. 'schedule:' .. name, unpack(FIELDS))
  if not f[1] then
    redis.call('ZREM', due, name)
  else
    out[#out + 1] = '[' .. text(f[1]) .. ',' .. text(f[2]) .. ',' .. num(f[3]) .. ',' .. num(f[4])
      .. ',' .. num(f[5]) .. ',' .. text(f[6]) .. ',' .. num(f[7]) .. ','
      .. num(f[8]) .. ',' .. num(f[9]) .. ',' .. num(f[10]) .. ',' .. num(f[11]) .. ','
      .. num(f[12]) .. ']'
  end
end
return '[' .. table.concat(out, ',') .. ']'
