-- Record the scheduler's progress if the version still matches.
-- ARGV[3] name, [4] expected version, [5] last_slot or '', [6] next_due or ''.
-- Returns 1, or 0 on conflict.
return advance(ARGV[3], ARGV[4], ARGV[5], ARGV[6])
