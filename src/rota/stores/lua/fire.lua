-- A scheduler tick's writes in one step: insert_runs (ARGV[3], its batch),
-- then advance_schedules (ARGV[4], its batch). Atomic, so the runs are never
-- seen without the schedules' progress, nor the progress without the runs.
-- Returns { insert_runs' text, advance_schedules' text }.
local inserted, woke = insert_all(ARGV[3])
local advanced = advance_all(ARGV[4])
if woke then wake() end
return { inserted, advanced }
