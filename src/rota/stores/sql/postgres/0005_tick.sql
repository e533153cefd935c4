-- rota schema, version 5, on PostgreSQL: what a scheduler tick needs, fast.
--
-- ``from_unix_us``: the batch writes (the ``fire`` query) take their rows as
-- JSON documents, with timestamps as integer microseconds since the Unix
-- epoch (what rota.stores._codec stores elsewhere). This turns one back into
-- a timestamptz, exactly: seconds and microseconds apart, each product exact
-- in float8 for every year 1 to 9999 (seconds * 10^6 is seconds * 15625,
-- below 2^53, times 2^6), with no time zone involved (the intervals have no
-- days or months). NULL gives NULL. A plain SQL expression, inlined where it
-- is called.

CREATE FUNCTION from_unix_us(us bigint) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT timestamptz '1970-01-01 00:00:00+00'
           + (us / 1000000) * interval '1 second'
           + (us % 1000000) * interval '1 microsecond'
$$;

-- ``due_schedules``: the due schedules, read in order from schedules_due and
-- never with a bitmap scan. Every advance leaves the schedule's old index
-- entry behind, dead, among the due ones (its old ``next_due`` has passed),
-- until VACUUM. A plain index scan marks each dead entry it meets, so the
-- next tick skips it; a bitmap scan (what the planner picks when statistics
-- say few schedules are due) marks none, and visits every one again on every
-- tick: at a million schedules, tens of thousands of entries and as many heap
-- pages per tick between two vacuums. The SET also keeps the function from
-- being inlined into the caller's query.

CREATE FUNCTION due_schedules(p_now timestamptz, p_limit integer) RETURNS SETOF schedules
LANGUAGE sql STABLE SET enable_bitmapscan = off AS $$
    SELECT * FROM schedules
    WHERE NOT paused AND NOT retired AND next_due IS NOT NULL AND next_due <= p_now
    ORDER BY next_due, name
    LIMIT p_limit
$$;

-- ``runs_active``: a tick asks which of its schedules have a run queued,
-- retrying or running (active_runs_for, for the overlap policies). Through
-- runs_schedule that visits every run of each schedule, history included:
-- up to keep_runs (1,000 by default) per schedule, so ~85 ms for 1,000
-- schedules with only 50 finished runs each, growing with the history.
-- This index holds the active runs alone (a few per schedule at most): the
-- same question costs ~1 ms whatever the history, for one more index entry
-- per run inserted or claimed (~3 ms per 1,000 runs).
CREATE INDEX runs_active ON runs (schedule, created_at, id)
    WHERE state IN ('queued', 'retrying', 'running');
