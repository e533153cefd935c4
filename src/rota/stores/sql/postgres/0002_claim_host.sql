-- rota schema, version 2, on PostgreSQL: claims honour a run's host.
--
-- A run whose ``host`` is set (an ``on_each_server`` run) must execute on
-- that host: ``claim_runs`` takes it only for a caller passing that same
-- host (``p_host``; NULL takes none of them), a run with no host for anyone.
-- The check is in the candidate query, so it is part of the one atomic
-- claim. The claim index carries ``host`` next to ``queue`` so that
-- next_available_at, which filters on both, can still be answered from it.

DROP INDEX runs_claim;
CREATE INDEX runs_claim ON runs (priority DESC, available_at, id) INCLUDE (queue, host)
    WHERE state IN ('queued', 'retrying');

-- A new parameter is a new signature: CREATE OR REPLACE would add an
-- overload beside the old function, which old code could still call.
DROP FUNCTION claim_runs(text, timestamptz, timestamptz, integer, text[]);

-- The claim, in one round trip. Candidates come in claim order, each locked
-- as it is fetched (FOR UPDATE SKIP LOCKED: a run another claim holds is
-- passed over, never waited for, never taken twice).
--
-- An exclusive run (no two runs of its schedule running at once) is taken
-- only when this claim holds its schedule's transaction-scoped advisory
-- lock and, checked *after* the lock was granted, no run of the schedule is
-- running. The order matters: a check in the snapshot of the candidate
-- query could miss a run that another claim committed while this one
-- waited, and two claims would each start a run of the schedule. Another
-- claim deciding the same schedule holds the lock, so this one passes over
-- the schedule rather than waiting. A non-exclusive run takes the lock
-- shared: such runs of one schedule start together, but never while an
-- exclusive claim of the schedule is deciding, whose check would miss them.
-- Each lock is held until the claim commits: a claim holds at most ``limit``.
CREATE FUNCTION claim_runs(
    p_worker text, p_now timestamptz, p_expires timestamptz, p_limit integer, p_queues text[],
    p_host text
) RETURNS SETOF runs
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    candidates CURSOR FOR
        SELECT id, schedule, exclusive FROM runs AS candidate
        WHERE state IN ('queued', 'retrying') AND available_at <= p_now
          AND (p_queues IS NULL OR queue = ANY (p_queues))
          AND (host IS NULL OR host = p_host)
          AND (NOT exclusive OR schedule IS NULL OR NOT EXISTS (
                SELECT 1 FROM runs AS other
                WHERE other.schedule = candidate.schedule AND other.state = 'running'))
        ORDER BY priority DESC, available_at, id
        FOR UPDATE SKIP LOCKED;
    run record;
    picked text[] := '{}';
    taken text[] := '{}';
    lock_space integer := hashtext(current_schema());
BEGIN
    IF p_limit <= 0 THEN
        RETURN;
    END IF;
    -- An explicit cursor fetches (and locks) one row at a time; a FOR loop
    -- would prefetch and hold rows it never takes.
    OPEN candidates;
    LOOP
        FETCH candidates INTO run;
        EXIT WHEN NOT FOUND;
        IF run.schedule IS NOT NULL THEN
            IF run.exclusive THEN
                CONTINUE WHEN run.schedule = ANY (taken);
                CONTINUE WHEN NOT pg_try_advisory_xact_lock(lock_space, hashtext(run.schedule));
                -- A statement of its own: a snapshot taken after the lock.
                CONTINUE WHEN EXISTS (
                    SELECT 1 FROM runs WHERE schedule = run.schedule AND state = 'running');
            ELSE
                CONTINUE WHEN NOT pg_try_advisory_xact_lock_shared(
                    lock_space, hashtext(run.schedule));
            END IF;
            taken := taken || run.schedule;
        END IF;
        picked := picked || run.id;
        EXIT WHEN cardinality(picked) >= p_limit;
    END LOOP;
    CLOSE candidates;
    RETURN QUERY
        WITH claimed AS (
            UPDATE runs SET
                state = 'running', attempt = attempt + 1,
                lease_token = replace(gen_random_uuid()::text, '-', ''),
                lease_expires_at = p_expires, started_at = p_now, worker = p_worker,
                cancel_requested = false
            WHERE id = ANY (picked)
            RETURNING *
        )
        SELECT * FROM claimed ORDER BY priority DESC, available_at, id;
END
$$;
