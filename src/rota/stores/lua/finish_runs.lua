-- finish_run for each item, in order, each checked against its own token.
-- ARGV[3]: a JSON array with one array per item, [[run id, token, '1' to give
-- the attempt back, [field, value, …] to set, [field, …] to delete], …].
-- Returns one character per item, as one text: '0' (the token does not hold
-- the run), '1' (finished) or '2' (finished, and some run waits for it: the
-- caller settles those). PUBLISHes at most once, when some finish may give a
-- worker something to claim.
local out, woke, gone = {}, false, {}
for n, f in ipairs(cjson.decode(ARGV[3])) do
  local done, claimable, waited = finish(f[1], f[2], f[3] == '1', f[4], f[5], gone)
  out[n] = done == 0 and '0' or (waited and '2' or '1')
  woke = woke or claimable
end
variadic('ZREM', B .. 'running', gone)
if woke then wake() end
return table.concat(out)
