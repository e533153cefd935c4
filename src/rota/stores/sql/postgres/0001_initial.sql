-- rota schema, version 1, on PostgreSQL. Applied with search_path set to the
-- store's own schema (URL ``?schema=``, default ``rota``): names here are
-- unqualified. Names and ids compare byte-wise (COLLATE "C"), in every store
-- the same order. JSON is ``json``, not ``jsonb``: it keeps the text as
-- written (key order, -0.0, "\u0000"), so values round-trip unchanged.

CREATE TABLE schedules (
    name        text COLLATE "C" PRIMARY KEY,
    job         text NOT NULL,
    spec        json NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    source      text NOT NULL,
    paused      boolean NOT NULL DEFAULT false,
    retired     boolean NOT NULL DEFAULT false,
    last_slot   timestamptz,
    next_due    timestamptz,
    version     bigint NOT NULL
);

-- due_schedules / next_due_at walk this in order.
CREATE INDEX schedules_due ON schedules (next_due, name)
    WHERE NOT paused AND NOT retired AND next_due IS NOT NULL;

-- The primary key on id is the exactly-once guarantee.
CREATE TABLE runs (
    id                text COLLATE "C" PRIMARY KEY,
    job               text NOT NULL,
    state             text NOT NULL CHECK (state IN (
                          'waiting', 'queued', 'running', 'retrying', 'succeeded', 'failed',
                          'timed_out', 'cancelled', 'skipped', 'missed', 'upstream_failed')),
    schedule          text COLLATE "C",
    slot              timestamptz,
    created_at        timestamptz NOT NULL,
    available_at      timestamptz NOT NULL,
    queue             text COLLATE "C" NOT NULL,
    priority          integer NOT NULL,
    exclusive         boolean NOT NULL,
    max_attempts      integer NOT NULL,
    options           json NOT NULL,
    args              json NOT NULL,
    kwargs            json NOT NULL,
    attempt           integer NOT NULL,
    host              text,
    manual            boolean NOT NULL,
    parents           json NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz,
    worker            text,
    lease_token       text,
    lease_expires_at  timestamptz,
    cancel_requested  boolean NOT NULL,
    result            json,
    error             text,
    traceback         text,
    log               text NOT NULL,
    checkpoint        json,
    progress_done     double precision,
    progress_total    double precision
);

-- Claimable runs in claim order: claim_runs walks it and stops at its limit,
-- next_available_at reads its smallest available_at. Partial, so it holds
-- only the (few) runs waiting for a worker, whatever the history's size.
CREATE INDEX runs_claim ON runs (priority DESC, available_at, id) INCLUDE (queue)
    WHERE state IN ('queued', 'retrying');
-- "Is this schedule running" for exclusive claims; reclaim_expired scans it
-- (running runs are bounded by the workers' capacity).
CREATE INDEX runs_running ON runs (schedule, lease_expires_at) WHERE state = 'running';
-- History: list_runs, active_runs, prune_runs.
CREATE INDEX runs_schedule ON runs (schedule, created_at, id);
CREATE INDEX runs_created ON runs (created_at, id);

-- Wakes every process waiting in wait_for_activity (LISTEN rota_<schema>).
-- ``sender`` is the writing store's own token, which its own listener
-- ignores (it has already woken its waiters in-process). True, so that a
-- write can call it once per changed row in a RETURNING query; PostgreSQL
-- folds identical notifications of one transaction into one.
CREATE FUNCTION notify_waiters(sender text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_notify('rota_' || current_schema(), sender);
    RETURN true;
END
$$;

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
    p_worker text, p_now timestamptz, p_expires timestamptz, p_limit integer, p_queues text[]
) RETURNS SETOF runs
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    candidates CURSOR FOR
        SELECT id, schedule, exclusive FROM runs AS candidate
        WHERE state IN ('queued', 'retrying') AND available_at <= p_now
          AND (p_queues IS NULL OR queue = ANY (p_queues))
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
