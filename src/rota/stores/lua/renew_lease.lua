-- Extend the lease if the token holds it.
-- ARGV[3] run id, [4] token, [5] new expiry.
-- Returns nil (lost), or the run's cancel_requested flag ('0' or '1').
local id, token, expires = ARGV[3], ARGV[4], ARGV[5]
local key = run_key(id)
local f = redis.call('HMGET', key, 'state', 'lease_token', 'cancel_requested')
if f[1] ~= 'running' or f[2] ~= token then return false end
redis.call('HSET', key, 'lease_expires_at', expires)
redis.call('HINCRBY', key, 'rev', 1)
redis.call('ZADD', B .. 'running', expires, id)
return f[3] or '0'
