-- Named queries of the PostgreSQL store, parsed once at import by
-- rota.stores._codec.load_queries. They run with search_path set to the
-- store's schema. ``%(me)s`` is the writing store's token for notify_waiters.

-- name: schema_exists
SELECT 1 FROM pg_namespace WHERE nspname = %(name)s

-- name: applied_migrations
SELECT version FROM rota_migrations ORDER BY version

-- name: record_migration
INSERT INTO rota_migrations (version, name) VALUES (%(version)s, %(name)s)

-- name: notify
SELECT notify_waiters(%(me)s)

-- schedules -----------------------------------------------------------------

-- name: get_schedule
SELECT * FROM schedules WHERE name = %(name)s

-- name: list_schedules
-- ``name >= coalesce(after, '')`` is an index condition in a generic plan too,
-- so each page starts where the last ended (``after IS NULL OR name > after``
-- alone filters every name before it, every page). Every text is >= '' (names
-- compare byte-wise), so with no ``after`` nothing is skipped, not even a name
-- ''; the second test drops ``after`` itself.
SELECT * FROM schedules
WHERE name >= coalesce(%(after)s::text, '') AND (%(after)s::text IS NULL OR name > %(after)s)
  AND (%(include_retired)s OR NOT retired)
  AND (%(per_host)s::boolean IS NULL OR per_host = %(per_host)s::boolean)
ORDER BY name
LIMIT %(limit)s

-- name: list_per_host_schedules
-- list_schedules(per_host=True): the literal condition matches the partial
-- index schedules_per_host (in a generic plan too), which holds only these.
SELECT * FROM schedules
WHERE per_host AND (%(include_retired)s OR NOT retired)
  AND name >= coalesce(%(after)s::text, '') AND (%(after)s::text IS NULL OR name > %(after)s)
ORDER BY name
LIMIT %(limit)s

-- name: insert_schedule
WITH saved AS (
    INSERT INTO schedules
        (name, job, spec, created_at, updated_at, source, paused, retired,
         last_slot, next_due, version, per_host)
    VALUES
        (%(name)s, %(job)s, %(spec)s, %(created_at)s, %(updated_at)s, %(source)s, %(paused)s,
         %(retired)s, %(last_slot)s, %(next_due)s, 1, %(per_host)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING version
)
SELECT version, notify_waiters(%(me)s) FROM saved

-- name: insert_schedules
-- insert_schedule for a batch of distinct names, one array per column, in one
-- statement; the caller sends them sorted by name, so that concurrent batches
-- that share names wait for each other in one order, never in a cycle. The
-- inserted names come back as one array, with one notification for the batch.
WITH saved AS (
    INSERT INTO schedules
        (name, job, spec, created_at, updated_at, source, paused, retired,
         last_slot, next_due, version, per_host)
    SELECT i.name, i.job, i.spec, i.created_at, i.updated_at, i.source, i.paused, i.retired,
           i.last_slot, i.next_due, 1, i.per_host
    FROM unnest(
        %(name)b::text[], %(job)b::text[], %(spec)b::json[], %(created_at)b::timestamptz[],
        %(updated_at)b::timestamptz[], %(source)b::text[], %(paused)b::boolean[],
        %(retired)b::boolean[], %(last_slot)b::timestamptz[], %(next_due)b::timestamptz[],
        %(per_host)b::boolean[]
    ) AS i (name, job, spec, created_at, updated_at, source, paused, retired, last_slot,
            next_due, per_host)
    ON CONFLICT (name) DO NOTHING
    RETURNING name
)
SELECT array_agg(name) AS names, notify_waiters(%(me)s) FROM saved HAVING count(*) > 0

-- name: update_schedule
WITH saved AS (
    UPDATE schedules SET
        job = %(job)s, spec = %(spec)s, created_at = %(created_at)s,
        updated_at = %(updated_at)s, source = %(source)s, paused = %(paused)s,
        retired = %(retired)s, last_slot = %(last_slot)s, next_due = %(next_due)s,
        per_host = %(per_host)s, version = version + 1
    WHERE name = %(name)s AND version = %(expected_version)s
    RETURNING version
)
SELECT version, notify_waiters(%(me)s) FROM saved

-- name: advance_schedule
UPDATE schedules SET last_slot = %(last_slot)s, next_due = %(next_due)s, version = version + 1
WHERE name = %(name)s AND version = %(expected_version)s

-- name: delete_schedule
WITH deleted AS (DELETE FROM schedules WHERE name = %(name)s RETURNING 1)
SELECT notify_waiters(%(me)s) FROM deleted

-- name: due_schedules
-- Read by the function of the same name (0005_tick.sql), which never uses a
-- bitmap scan. ``spec`` as text: the store parses it once, without psycopg's
-- Python json loader in between.
SELECT name, job, spec::text, created_at, updated_at, source, paused, retired, last_slot,
       next_due, version, per_host
FROM due_schedules(%(now)s, %(limit)s)

-- name: due_for_tick
-- due_schedules, each with whether it has a queued, retrying or running run:
-- one probe of the partial index runs_active per row (its predicate,
-- literally), instead of a second round trip for active_runs_for.
SELECT d.name, d.job, d.spec::text, d.created_at, d.updated_at, d.source, d.paused, d.retired,
       d.last_slot, d.next_due, d.version, d.per_host,
       EXISTS (SELECT FROM runs
               WHERE runs.schedule = d.name AND runs.state IN ('queued', 'retrying', 'running'))
FROM due_schedules(%(now)s, %(limit)s) AS d

-- name: next_due_at
SELECT min(next_due) FROM schedules
WHERE NOT paused AND NOT retired AND next_due IS NOT NULL

-- runs: creation and reading ------------------------------------------------

-- name: insert_run
WITH inserted AS (
    INSERT INTO runs
        (id, job, state, schedule, slot, created_at, available_at, queue, priority,
         exclusive, max_attempts, options, args, kwargs, attempt, host, manual, parents,
         started_at, finished_at, worker, lease_token, lease_expires_at, cancel_requested,
         result, error, traceback, log, checkpoint, progress_done, progress_total)
    VALUES
        (%(id)s, %(job)s, %(state)s, %(schedule)s, %(slot)s, %(created_at)s, %(available_at)s,
         %(queue)s, %(priority)s, %(exclusive)s, %(max_attempts)s, %(options)s, %(args)s,
         %(kwargs)s, %(attempt)s, %(host)s, %(manual)s, %(parents)s, %(started_at)s,
         %(finished_at)s, %(worker)s, %(lease_token)s, %(lease_expires_at)s,
         %(cancel_requested)s, %(result)s, %(error)s, %(traceback)s, %(log)s, %(checkpoint)s,
         %(progress_done)s, %(progress_total)s)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
SELECT id, notify_waiters(%(me)s) FROM inserted

-- name: fire
-- insert_runs, then advance_schedules (distinct names), in one statement: one
-- round trip and one commit for a scheduler tick (either list may be empty:
-- insert_runs and advance_schedules are this statement too). Everything the
-- two do apart holds here, and so does their order: ``locked`` reads
-- ``inserted`` (a one-time filter), so every run is inserted (its id
-- locked, in id order) before the first schedule is locked (in name order).
-- Two schedulers firing overlapping batches then wait for each other in one
-- order, never in a cycle. The inserted ids and the advanced names come back
-- as two arrays, with one notification when a run was inserted.
--
-- The rows come as JSON documents (built by _pg_conn.runs_params and
-- advances_json): one C-speed encode each in Python and one parse here,
-- instead of psycopg dumping an array per column element by element.
-- ``runs`` is an array of rows, each an array of the run's columns (but the
-- JSON ones) in the order below, read as jsonb: timestamps are integer
-- microseconds since the Unix epoch (from_unix_us, exact). Each JSON column
-- comes as a json array of its values, one per run in the same order:
-- json_array_elements gives each element's text exactly as written (jsonb
-- would normalise it; ``->`` would refuse "\u0000").
WITH inserted AS (
    INSERT INTO runs
        (id, job, state, schedule, slot, created_at, available_at, queue, priority,
         exclusive, max_attempts, options, args, kwargs, attempt, host, manual, parents,
         started_at, finished_at, worker, lease_token, lease_expires_at, cancel_requested,
         result, error, traceback, log, checkpoint, progress_done, progress_total)
    SELECT r->>0, r->>1, r->>2, r->>3, from_unix_us((r->>4)::bigint),
           from_unix_us((r->>5)::bigint), from_unix_us((r->>6)::bigint), r->>7,
           (r->>8)::integer, (r->>9)::boolean, (r->>10)::integer, options, args, kwargs,
           (r->>11)::integer, r->>12, (r->>13)::boolean, parents,
           from_unix_us((r->>14)::bigint), from_unix_us((r->>15)::bigint), r->>16, r->>17,
           from_unix_us((r->>18)::bigint), (r->>19)::boolean, result, r->>20, r->>21, r->>22,
           checkpoint, (r->>23)::double precision, (r->>24)::double precision
    FROM ROWS FROM (
        jsonb_array_elements(%(runs)s::jsonb), json_array_elements(%(options)s::json),
        json_array_elements(%(args)s::json), json_array_elements(%(kwargs)s::json),
        json_array_elements(%(parents)s::json), json_array_elements(%(results)s::json),
        json_array_elements(%(checkpoints)s::json)
    ) AS i (r, options, args, kwargs, parents, result, checkpoint)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), advance AS MATERIALIZED (
    SELECT a->>0 AS name, (a->>1)::bigint AS expected_version,
           from_unix_us((a->>2)::bigint) AS last_slot, from_unix_us((a->>3)::bigint) AS next_due
    FROM jsonb_array_elements(%(advances)s::jsonb) AS a
), locked AS MATERIALIZED (
    SELECT name FROM schedules
    WHERE name = ANY (ARRAY(SELECT name FROM advance)) AND (SELECT count(*) FROM inserted) >= 0
    ORDER BY name
    FOR UPDATE
), advanced AS (
    UPDATE schedules AS s SET
        last_slot = i.last_slot, next_due = i.next_due, version = s.version + 1
    FROM advance AS i
    WHERE s.name = i.name AND s.version = i.expected_version
      AND s.name IN (SELECT name FROM locked)
    RETURNING s.name
)
SELECT (SELECT array_agg(id) FROM inserted) AS ids,
       (SELECT array_agg(name) FROM advanced) AS names,
       CASE WHEN EXISTS (SELECT FROM inserted) THEN notify_waiters(%(me)s) END AS notified

-- name: update_run
UPDATE runs SET
    state = %(state)s, available_at = %(available_at)s, attempt = %(attempt)s,
    started_at = %(started_at)s, finished_at = %(finished_at)s, worker = %(worker)s,
    lease_token = %(lease_token)s, lease_expires_at = %(lease_expires_at)s,
    cancel_requested = %(cancel_requested)s, result = %(result)s, error = %(error)s,
    traceback = %(traceback)s, log = %(log)s, checkpoint = %(checkpoint)s,
    progress_done = %(progress_done)s, progress_total = %(progress_total)s
WHERE id = %(id)s

-- name: get_run
SELECT * FROM runs WHERE id = %(id)s

-- name: get_run_for_update
SELECT * FROM runs WHERE id = %(id)s FOR UPDATE

-- name: list_runs
SELECT * FROM runs
WHERE (%(schedule)s::text IS NULL OR schedule = %(schedule)s)
  AND (%(states)s::text[] IS NULL OR state = ANY (%(states)s::text[]))
  AND (%(before_at)s::timestamptz IS NULL
       OR (created_at, id) < (%(before_at)s::timestamptz, %(before_id)s::text))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s

-- name: active_runs
-- Read from runs_active, in its order.
SELECT * FROM runs
WHERE schedule = %(schedule)s AND state IN ('queued', 'retrying', 'running')
ORDER BY created_at, id

-- name: active_runs_for
-- Read from the partial index runs_active (its predicate, literally): the
-- active runs alone, not each schedule's history. The names as one JSON
-- array: one encode in Python, not psycopg's per-element array dumping.
SELECT * FROM runs
WHERE schedule = ANY (ARRAY(SELECT json_array_elements_text(%(schedules)s::json)))
  AND state IN ('queued', 'retrying', 'running')
ORDER BY schedule, created_at, id

-- name: get_runs
SELECT * FROM runs WHERE id = ANY (%(ids)b::text[])

-- runs: dependencies --------------------------------------------------------

-- name: waiting_runs
-- The waiting runs that are among %(ids)s or list one of them in their
-- parents (all waiting runs when %(ids)s is NULL), by id, at most %(limit)s.
-- The literal ``state = 'waiting'`` matches the partial index runs_waiting (in
-- a generic plan too): only waiting rows are read, in id order.
SELECT * FROM runs
WHERE state = 'waiting'
  AND (%(ids)s::text[] IS NULL OR id = ANY (%(ids)s::text[])
       OR EXISTS (SELECT 1 FROM json_array_elements_text(parents) AS parent (id)
                  WHERE parent.id = ANY (%(ids)s::text[])))
ORDER BY id
LIMIT %(limit)s

-- name: release_waiting
-- A compare-and-set: only a run still waiting moves on (see _rules.released);
-- a concurrent release of the same run waits for this one, then finds it no
-- longer waiting. Queued: available at once, and waiters are woken;
-- upstream_failed: finished, the error stored.
WITH released AS (
    UPDATE runs SET
        state = %(state)s,
        available_at = coalesce(%(available_at)s, available_at),
        finished_at = coalesce(%(finished_at)s, finished_at),
        error = CASE WHEN %(set_error)s THEN %(error)s::text ELSE error END
    WHERE id = %(id)s AND state = 'waiting'
    RETURNING *
)
SELECT *, CASE WHEN state = 'queued' THEN notify_waiters(%(me)s) END AS notified
FROM released

-- runs: execution -----------------------------------------------------------

-- name: claim_runs
SELECT * FROM claim_runs(
    %(worker)s, %(now)s, %(expires)s, %(limit)s, %(queues)s::text[], %(host)s::text)

-- name: renew_lease
UPDATE runs SET lease_expires_at = %(expires)s
WHERE id = %(id)s AND state = 'running' AND lease_token = %(token)s
RETURNING cancel_requested

-- name: finish_run
WITH finished AS (
    UPDATE runs SET
        state = %(state)s, finished_at = %(finished_at)s,
        available_at = coalesce(%(available_at)s, available_at),
        attempt = greatest(0, attempt - %(give_back)s),
        lease_token = NULL, lease_expires_at = NULL, cancel_requested = false,
        result = %(result)s, error = %(error)s, traceback = %(traceback)s, log = %(log)s
    WHERE id = %(id)s AND state = 'running' AND lease_token = %(token)s
    RETURNING 1
)
SELECT notify_waiters(%(me)s) FROM finished

-- name: finish_runs
-- finish_run for a batch of distinct ids, one array per column (values
-- computed by rota.stores._rules, as for finish_run), each row checked
-- against its own token. The finished ids come back as one array, with one
-- notification for the batch.
WITH finished AS (
    UPDATE runs AS r SET
        state = i.state, finished_at = i.finished_at,
        available_at = coalesce(i.available_at, r.available_at),
        attempt = greatest(0, r.attempt - i.give_back),
        lease_token = NULL, lease_expires_at = NULL, cancel_requested = false,
        result = i.result, error = i.error, traceback = i.traceback, log = i.log
    FROM unnest(
        %(id)b::text[], %(token)b::text[], %(state)b::text[], %(finished_at)b::timestamptz[],
        %(available_at)b::timestamptz[], %(give_back)b::integer[], %(result)b::json[],
        %(error)b::text[], %(traceback)b::text[], %(log)b::text[]
    ) AS i (id, token, state, finished_at, available_at, give_back, result, error, traceback,
            log)
    WHERE r.id = i.id AND r.state = 'running' AND r.lease_token = i.token
    RETURNING r.id
)
SELECT array_agg(id) AS ids, notify_waiters(%(me)s) FROM finished HAVING count(*) > 0

-- name: save_progress
UPDATE runs SET
    checkpoint = CASE WHEN %(set_checkpoint)s THEN %(checkpoint)s::json ELSE checkpoint END,
    progress_done = coalesce(%(done)s, progress_done),
    progress_total = coalesce(%(total)s, progress_total)
WHERE id = %(id)s AND state = 'running' AND lease_token = %(token)s

-- name: expired_runs
-- Each expired run goes to one reclaimer: a run another one holds is passed over.
SELECT * FROM runs
WHERE state = 'running' AND lease_expires_at < %(now)s
ORDER BY id
FOR UPDATE SKIP LOCKED

-- name: next_available_at
-- The claim's queue and host rules (see claim_runs in 0002_claim_host.sql).
SELECT min(available_at) FROM runs
WHERE state IN ('queued', 'retrying')
  AND (%(queues)s::text[] IS NULL OR queue = ANY (%(queues)s::text[]))
  AND (host IS NULL OR host = %(host)s::text)

-- name: prune_runs
DELETE FROM runs WHERE id IN (
    SELECT id FROM runs
    WHERE schedule = %(schedule)s AND state = ANY (%(terminal)s::text[])
    ORDER BY created_at DESC, id DESC
    OFFSET %(keep)s
)
