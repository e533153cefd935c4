-- End the attempt the token holds.
-- ARGV[3] run id, [4] token, [5] '1' to give the attempt back, then n and n
-- items of fields to set (field, value …), then n and n fields to delete.
-- Returns '0' (nothing changed) when the token does not hold the run, '1'
-- (finished) or '2' (finished, and some run waits for it).
-- PUBLISHes only when the finish may give a worker something to claim.
local sets, i = take(6)
local dels = take(i)
local done, woke, waited = finish(ARGV[3], ARGV[4], ARGV[5] == '1', sets, dels)
if woke then wake() end
return done == 0 and '0' or (waited and '2' or '1')
