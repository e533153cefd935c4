-- advance_schedule for each item, in order (an item sees what the ones
-- before it did). ARGV[3]: a JSON array with one array per item,
-- [[name, expected version, last_slot or '', next_due or ''], …], as text.
-- Returns one 1 (advanced) or 0 (conflict) per item.
local out = {}
for n, a in ipairs(cjson.decode(ARGV[3])) do
  out[n] = advance(a[1], a[2], a[3], a[4])
end
return out
