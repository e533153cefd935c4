-- finish_run for each item, in order, each checked against its own token.
-- ARGV[3]: a JSON array with one array per item, [[run id, token, '1' to give
-- the attempt back, [field, value, …] to set, [field, …] to delete], …].
-- Returns one 1 (finished) or 0 (the token does not hold the run) per item;
-- PUBLISHes at most once, when some finish may give a worker something to claim.
local out, woke = {}, false
for n, f in ipairs(cjson.decode(ARGV[3])) do
  local done, claimable = finish(f[1], f[2], f[3] == '1', f[4], f[5])
  out[n], woke = done, woke or claimable
end
if woke then wake() end
return out
