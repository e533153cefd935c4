-- Store a checkpoint and/or progress if the token holds the lease.
-- ARGV[3] run id, [4] token, then n and n items (field, value …).
-- Returns 1, or 0 when the token does not hold the run.
local id, token = ARGV[3], ARGV[4]
local key = run_key(id)
local f = redis.call('HMGET', key, 'state', 'lease_token')
if f[1] ~= 'running' or f[2] ~= token then return 0 end
local sets = take(5)
if #sets > 0 then redis.call('HSET', key, unpack(sets)) end
redis.call('HINCRBY', key, 'rev', 1)
return 1
