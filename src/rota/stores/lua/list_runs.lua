-- Runs newest first by (created_at, id), strictly before (before_at, before_id).
-- ARGV[3] the index: 'sched:<schedule>', or '' for every run; [4] limit;
-- [5] before_at or ''; [6] before_id; then n and n states ('*' alone: any).
-- Ids whose run expired (TTL) are dropped from the index on the way.
-- Returns the records as JSON: [[field, value, …], …].
local index, limit, before_at, before_id = ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local states = take(7)
local any_state = states[1] == '*'
local wanted = {}
for _, s in ipairs(states) do wanted[s] = true end
local key = B .. (index == '' and 'runs' or index)
local max = before_at == '' and '+inf' or before_at
local batch = math.max(limit, 64)
local out, off = {}, 0
while #out < limit do
  local got = redis.call('ZRANGE', key, max, '-inf', 'BYSCORE', 'REV', 'LIMIT', off, batch,
                         'WITHSCORES')
  if #got == 0 then break end
  off = off + #got / 2
  for k = 1, #got, 2 do
    local id = got[k]
    local before = before_at == '' or tonumber(got[k + 1]) ~= tonumber(before_at)
      or bytes_lt(id, before_id)
    if before then
      local state = redis.call('HGET', run_key(id), 'state')
      if not state then
        redis.call('ZREM', key, id)
        off = off - 1
      elseif any_state or wanted[state] then
        out[#out + 1] = redis.call('HGETALL', run_key(id))
        if #out >= limit then break end
      end
    end
  end
end
return records(out)
