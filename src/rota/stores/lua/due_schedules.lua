-- The schedules due by ARGV[3] (next_due <= it, in microseconds), at most
-- ARGV[4], by next_due then name. A name whose record is gone leaves `due`.
-- Returns an array: first one JSON text, a list with one list per schedule,
-- [name, job, created_at, updated_at, source, paused, retired, last_slot,
-- next_due, version, per_host, busy] (numbers as stored, absent ones null;
-- busy: how many runs its active:<name> index holds, a run gone since
-- included: active_runs_for tells, and drops it); then
-- each schedule's spec as stored (JSON text), in the same order. The specs
-- go back as they are rather than copied into the text: building a long
-- text costs a script far more than handing Redis strings it already has.
local FIELDS = { 'job', 'spec', 'created_at', 'updated_at', 'source', 'paused', 'retired',
                 'last_slot', 'next_due', 'version', 'per_host' }
local encode, find = cjson.encode, string.find
local function num(v) return v or 'null' end
-- A JSON string: quoted as is unless it holds a quote, a backslash or a control
-- character (what names, jobs and sources hardly ever do), else cjson's.
local function text(v)
  if not v then return 'null' end
  if find(v, '[%c"\\]') then return encode(v) end
  return '"' .. v .. '"'
end
local due = B .. 'due'
local rows, out = {}, { '' }
for _, name in ipairs(redis.call('ZRANGE', due, '-inf', ARGV[3], 'BYSCORE', 'LIMIT', 0, ARGV[4])) do
  local f = redis.call('HMGET', B .. 'schedule:' .. name, unpack(FIELDS))
  if not f[1] then
    redis.call('ZREM', due, name)
  else
    rows[#rows + 1] = '[' .. text(name) .. ',' .. text(f[1]) .. ',' .. num(f[3]) .. ','
      .. num(f[4]) .. ',' .. text(f[5]) .. ',' .. num(f[6]) .. ',' .. num(f[7]) .. ','
      .. num(f[8]) .. ',' .. num(f[9]) .. ',' .. num(f[10]) .. ',' .. num(f[11]) .. ','
      .. redis.call('ZCARD', B .. 'active:' .. name) .. ']'
    out[#out + 1] = f[2] or 'null'
  end
end
out[1] = '[' .. table.concat(rows, ',') .. ']'
return out
