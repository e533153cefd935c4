-- Insert each schedule whose name is not stored yet, as version 1, in order
-- (a name given twice: its first item wins, the second finds it stored).
-- ARGV[3]: a JSON array with one array per schedule, [[name, '1' if retired,
-- '1' if per-host, next_due when it fires else '', [field, value, …] to set,
-- [field, …] to delete], …].
-- Returns one 1 (inserted) or 0 (a schedule of that name exists) per item;
-- PUBLISHes once when some was inserted.
local out, woke = {}, false
for n, s in ipairs(cjson.decode(ARGV[3])) do
  if save_schedule(s[1], '', s[2], s[3], s[4], s[5], s[6]) then
    out[n], woke = 1, true
  else
    out[n] = 0
  end
end
if woke then wake() end
return out
