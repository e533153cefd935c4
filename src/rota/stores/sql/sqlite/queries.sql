-- Named queries of the SQLite store, parsed once at import by
-- rota.stores._codec.load_queries. Datetimes are integer microseconds (UTC).

-- name: create_migrations
CREATE TABLE IF NOT EXISTS rota_migrations (
    version  INTEGER PRIMARY KEY,
    name     TEXT NOT NULL
)

-- name: applied_migrations
SELECT version, name FROM rota_migrations ORDER BY version

-- name: record_migration
INSERT INTO rota_migrations (version, name) VALUES (:version, :name)

-- schedules -----------------------------------------------------------------

-- name: get_schedule
SELECT * FROM rota_schedules WHERE name = :name

-- name: list_schedules
-- ``name >= coalesce(:after, '')`` is what SQLite seeks the primary key with,
-- so each page starts where the last ended (``:after IS NULL OR name > :after``
-- alone scans from the first name every page). Every text is >= '', so with no
-- :after nothing is skipped, not even a name ''; the second test drops :after.
SELECT * FROM rota_schedules
WHERE name >= coalesce(:after, '') AND (:after IS NULL OR name > :after)
  AND (:include_retired OR retired = 0)
  AND (:per_host IS NULL OR per_host = :per_host)
ORDER BY name
LIMIT :limit

-- name: list_per_host_schedules
-- list_schedules(per_host=True): the literal ``per_host = 1`` lets SQLite walk
-- the partial index rota_schedules_per_host, which holds only these records
-- (seeking it as list_schedules seeks the primary key).
SELECT * FROM rota_schedules INDEXED BY rota_schedules_per_host
WHERE per_host = 1 AND name >= coalesce(:after, '') AND (:after IS NULL OR name > :after)
  AND (:include_retired OR retired = 0)
ORDER BY name
LIMIT :limit

-- name: insert_schedule
INSERT INTO rota_schedules
    (name, job, spec, created_at, updated_at, source, paused, retired,
     last_slot, next_due, version, per_host)
VALUES
    (:name, :job, :spec, :created_at, :updated_at, :source, :paused, :retired,
     :last_slot, :next_due, 1, :per_host)
ON CONFLICT (name) DO NOTHING

-- name: update_schedule
UPDATE rota_schedules SET
    job = :job, spec = :spec, created_at = :created_at, updated_at = :updated_at,
    source = :source, paused = :paused, retired = :retired,
    last_slot = :last_slot, next_due = :next_due, per_host = :per_host,
    version = version + 1
WHERE name = :name AND version = :expected_version

-- name: advance_schedule
UPDATE rota_schedules SET last_slot = :last_slot, next_due = :next_due, version = version + 1
WHERE name = :name AND version = :expected_version

-- name: delete_schedule
DELETE FROM rota_schedules WHERE name = :name

-- name: due_schedules
-- The columns in _codec.SCHEDULE_COLUMNS order: decoded by position.
SELECT name, job, spec, created_at, updated_at, source, paused, retired,
       last_slot, next_due, version, per_host
FROM rota_schedules
WHERE paused = 0 AND retired = 0 AND next_due IS NOT NULL AND next_due <= :now
ORDER BY next_due, name
LIMIT :limit

-- name: due_for_tick
-- due_schedules, each with whether it has a queued, retrying or running run
-- (what active_runs_for reads), in one statement.
SELECT s.name, s.job, s.spec, s.created_at, s.updated_at, s.source, s.paused, s.retired,
       s.last_slot, s.next_due, s.version, s.per_host,
       EXISTS (SELECT 1 FROM rota_runs AS r
               WHERE r.schedule = s.name AND r.state IN ('queued', 'retrying', 'running'))
FROM rota_schedules AS s
WHERE s.paused = 0 AND s.retired = 0 AND s.next_due IS NOT NULL AND s.next_due <= :now
ORDER BY s.next_due, s.name
LIMIT :limit

-- name: next_due_at
SELECT min(next_due) FROM rota_schedules
WHERE paused = 0 AND retired = 0 AND next_due IS NOT NULL

-- runs: creation and reading ------------------------------------------------

-- name: update_run
UPDATE rota_runs SET
    state = :state, available_at = :available_at, attempt = :attempt,
    started_at = :started_at, finished_at = :finished_at, worker = :worker,
    lease_token = :lease_token, lease_expires_at = :lease_expires_at,
    cancel_requested = :cancel_requested, result = :result, error = :error,
    traceback = :traceback, log = :log, checkpoint = :checkpoint,
    progress_done = :progress_done, progress_total = :progress_total
WHERE id = :id

-- name: get_run
SELECT * FROM rota_runs WHERE id = :id

-- name: list_runs
SELECT * FROM rota_runs
WHERE (:schedule IS NULL OR schedule = :schedule)
  AND (:states IS NULL OR state IN (SELECT value FROM json_each(:states)))
  AND (:before_at IS NULL OR (created_at, id) < (:before_at, :before_id))
ORDER BY created_at DESC, id DESC
LIMIT :limit

-- name: active_runs
SELECT * FROM rota_runs
WHERE schedule = :schedule AND state IN ('queued', 'retrying', 'running')
ORDER BY created_at, id

-- name: active_runs_for
-- active_runs of each schedule in the JSON array :schedules, schedule by schedule.
SELECT * FROM rota_runs
WHERE schedule IN (SELECT value FROM json_each(:schedules))
  AND state IN ('queued', 'retrying', 'running')
ORDER BY schedule, created_at, id

-- name: get_runs
-- The runs whose ids are in the JSON array :ids (the caller restores its order).
SELECT * FROM rota_runs WHERE id IN (SELECT value FROM json_each(:ids))

-- runs: dependencies --------------------------------------------------------

-- name: waiting_runs
-- The waiting runs that are among the JSON array :ids or list one of them in
-- their parents, by id, at most :limit. The literal ``state = 'waiting'`` lets
-- SQLite walk the partial index rota_runs_waiting: only waiting rows are read.
SELECT * FROM rota_runs INDEXED BY rota_runs_waiting
WHERE state = 'waiting'
  AND (id IN (SELECT value FROM json_each(:ids))
       OR EXISTS (SELECT 1 FROM json_each(rota_runs.parents) AS parent
                  WHERE parent.value IN (SELECT value FROM json_each(:ids))))
ORDER BY id
LIMIT :limit

-- name: all_waiting_runs
SELECT * FROM rota_runs INDEXED BY rota_runs_waiting
WHERE state = 'waiting'
ORDER BY id
LIMIT :limit

-- name: release_waiting
-- A compare-and-set: only a run still waiting moves on (see _rules.released).
-- Queued: available at :available_at; upstream_failed: finished, :error stored.
UPDATE rota_runs SET
    state = :state,
    available_at = coalesce(:available_at, available_at),
    finished_at = coalesce(:finished_at, finished_at),
    error = CASE WHEN :set_error THEN :error ELSE error END
WHERE id = :id AND state = 'waiting'
RETURNING *

-- runs: execution -----------------------------------------------------------

-- name: claim_candidates
-- In claim order, stopping where the caller has enough; exclusive runs whose
-- schedule is running are left out here, two of one schedule in Python.
-- A per-host run (host set) goes only to a claim by that host (a NULL :host
-- matches none).
SELECT id, schedule, exclusive FROM rota_runs INDEXED BY rota_runs_claim
WHERE state IN ('queued', 'retrying') AND available_at <= :now
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
  AND (host IS NULL OR host = :host)
  AND (exclusive = 0 OR schedule IS NULL OR NOT EXISTS (
        SELECT 1 FROM rota_runs AS other INDEXED BY rota_runs_running
        WHERE other.schedule = rota_runs.schedule AND other.state = 'running'))
ORDER BY priority DESC, available_at, id

-- name: claim_run
UPDATE rota_runs SET
    state = 'running', attempt = attempt + 1, lease_token = :token,
    lease_expires_at = :expires, started_at = :now, worker = :worker, cancel_requested = 0
WHERE id = :id
RETURNING *

-- name: renew_lease
UPDATE rota_runs SET lease_expires_at = :expires
WHERE id = :id AND state = 'running' AND lease_token = :token
RETURNING cancel_requested

-- name: finish_run
UPDATE rota_runs SET
    state = :state, finished_at = :finished_at,
    available_at = coalesce(:available_at, available_at),
    attempt = max(0, attempt - :give_back),
    lease_token = NULL, lease_expires_at = NULL, cancel_requested = 0,
    result = :result, error = :error, traceback = :traceback, log = :log
WHERE id = :id AND state = 'running' AND lease_token = :token

-- name: save_progress
UPDATE rota_runs SET
    checkpoint = CASE WHEN :set_checkpoint THEN :checkpoint ELSE checkpoint END,
    progress_done = coalesce(:done, progress_done),
    progress_total = coalesce(:total, progress_total)
WHERE id = :id AND state = 'running' AND lease_token = :token

-- name: expired_runs
SELECT * FROM rota_runs INDEXED BY rota_runs_running
WHERE state = 'running' AND lease_expires_at < :now
ORDER BY id

-- name: next_available_at
SELECT min(available_at) FROM rota_runs INDEXED BY rota_runs_claim
WHERE state IN ('queued', 'retrying')
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
  AND (host IS NULL OR host = :host)

-- name: prune_runs
DELETE FROM rota_runs WHERE id IN (
    SELECT id FROM rota_runs
    WHERE schedule = :schedule AND state IN (SELECT value FROM json_each(:terminal))
    ORDER BY created_at DESC, id DESC
    LIMIT -1 OFFSET :keep
)

-- fire_batches (rota.stores._sqlite_fire) -----------------------------------

-- name: fire_view
-- A batch is written by inserting one row into this temporary view: one
-- statement (so one sqlite3_step, and autocommit: one transaction) whose
-- trigger does the work. Made on a connection the first time it fires batches.
CREATE TEMP VIEW IF NOT EXISTS rota_fire (runs, sent, advances, advanced)
AS SELECT NULL, NULL, NULL, NULL

-- name: fire_trigger
-- NEW.runs: a JSON array of run rows (_codec.run_values; distinct ids), or NULL;
-- NEW.advances: one of [name, expected_version, last_slot, next_due] rows
-- (distinct names; each a compare-and-set, as advance_schedule), or NULL.
-- With the counts NEW.sent and NEW.advanced, the batch is all or nothing in a
-- stronger sense: unless every run is inserted and every advance applies it
-- aborts with 'rota: recount' (the writer then asks which, fire_present);
-- with NULL counts it writes what it can. {columns} and {values} are filled
-- in from _codec.RUN_COLUMNS.
CREATE TEMP TRIGGER IF NOT EXISTS rota_fire INSTEAD OF INSERT ON rota_fire BEGIN
    INSERT INTO rota_runs ({columns})
    SELECT {values}
    -- ORDER BY: each row's text is rendered once and then read per column
    -- (straight from json_each it is rendered again for every column).
    FROM (SELECT value AS run FROM json_each(NEW.runs) ORDER BY key)
    WHERE true
    ON CONFLICT (id) DO NOTHING;
    SELECT RAISE(ABORT, 'rota: recount')
    WHERE NEW.sent IS NOT NULL AND changes() <> NEW.sent;
    UPDATE rota_schedules
    SET last_slot = a.last_slot, next_due = a.next_due, version = version + 1
    FROM (SELECT value ->> 0 AS name, value ->> 1 AS expected,
                 value ->> 2 AS last_slot, value ->> 3 AS next_due
          FROM json_each(NEW.advances)) AS a
    WHERE rota_schedules.name = a.name AND rota_schedules.version = a.expected;
    SELECT RAISE(ABORT, 'rota: recount')
    WHERE NEW.advanced IS NOT NULL AND changes() <> NEW.advanced;
END

-- name: fire_batch
INSERT INTO rota_fire (runs, sent, advances, advanced) VALUES (?, ?, ?, ?)

-- name: fire_present
-- Before a batch is written again without counts, in the same transaction:
-- the positions in the JSON array :ids of the run ids that exist, and in
-- :advances (as fire_trigger's) of the schedules at their expected version.
SELECT
    (SELECT json_group_array(key) FROM json_each(:ids)
     WHERE value IN (SELECT id FROM rota_runs)),
    (SELECT json_group_array(a.key) FROM json_each(:advances) AS a
     JOIN rota_schedules AS s ON s.name = a.value ->> 0 AND s.version = a.value ->> 1)
