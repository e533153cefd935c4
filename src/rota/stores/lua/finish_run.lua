-- End the attempt the token holds.
-- ARGV[3] run id, [4] token, [5] '1' to give the attempt back, then n and n
-- items of fields to set (field, value …), then n and n fields to delete.
-- Returns 1, or 0 (nothing changed) when the token does not hold the run.
local id, token = ARGV[3], ARGV[4]
local key = run_key(id)
local f = redis.call('HMGET', key, 'state', 'lease_token', 'attempt')
if f[1] ~= 'running' or f[2] ~= token then return 0 end
local sets, i = take(6)
local dels = take(i)
if ARGV[5] == '1' and tonumber(f[3]) > 0 then redis.call('HINCRBY', key, 'attempt', -1) end
apply(id, sets, dels)
wake()
return 1
