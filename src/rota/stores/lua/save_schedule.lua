-- Write a schedule if its stored version is the expected one.
-- ARGV[3] name, [4] expected version ('' : must not exist), [5] '1' if
-- retired, [6] '1' if per-host (on_each_server), [7] next_due when the
-- schedule fires (active, next_due set) else '', then n and n items of
-- fields to set, then n and n fields to delete.
-- Returns the new version, or nil on conflict.
local sets, i = take(8)
local dels = take(i)
local version = save_schedule(ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], sets, dels)
if not version then return false end
wake()
return version
