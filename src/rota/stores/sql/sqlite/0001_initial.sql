-- rota schema, version 1. Datetimes are integer microseconds since the Unix
-- epoch (UTC); JSON values are text; booleans are 0/1.

CREATE TABLE rota_schedules (
    name        TEXT PRIMARY KEY,
    job         TEXT NOT NULL,
    spec        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    source      TEXT NOT NULL,
    paused      INTEGER NOT NULL DEFAULT 0,
    retired     INTEGER NOT NULL DEFAULT 0,
    last_slot   INTEGER,
    next_due    INTEGER,
    version     INTEGER NOT NULL
) WITHOUT ROWID;

-- due_schedules / next_due_at walk this in order.
CREATE INDEX rota_schedules_due ON rota_schedules (next_due, name)
    WHERE paused = 0 AND retired = 0 AND next_due IS NOT NULL;

-- The primary key on id is the exactly-once guarantee.
CREATE TABLE rota_runs (
    id                TEXT PRIMARY KEY,
    job               TEXT NOT NULL,
    state             TEXT NOT NULL,
    schedule          TEXT,
    slot              INTEGER,
    created_at        INTEGER NOT NULL,
    available_at      INTEGER NOT NULL,
    queue             TEXT NOT NULL,
    priority          INTEGER NOT NULL,
    exclusive         INTEGER NOT NULL,
    max_attempts      INTEGER NOT NULL,
    options           TEXT NOT NULL,
    args              TEXT NOT NULL,
    kwargs            TEXT NOT NULL,
    attempt           INTEGER NOT NULL,
    host              TEXT,
    manual            INTEGER NOT NULL,
    parents           TEXT NOT NULL,
    started_at        INTEGER,
    finished_at       INTEGER,
    worker            TEXT,
    lease_token       TEXT,
    lease_expires_at  INTEGER,
    cancel_requested  INTEGER NOT NULL,
    result            TEXT,
    error             TEXT,
    traceback         TEXT,
    log               TEXT NOT NULL,
    checkpoint        TEXT,
    progress_done     REAL,
    progress_total    REAL
);

-- Every index a claim or a finish touches costs a page write per commit,
-- so the hot path has two small partial ones.
-- claim_runs walks claimable runs in claim order and stops at the limit;
-- next_available_at scans the same (few, when a worker is idle) rows.
CREATE INDEX rota_runs_claim ON rota_runs (priority DESC, available_at, id)
    WHERE state IN ('queued', 'retrying');
-- "Is this schedule running" for exclusive claims; reclaim_expired scans it
-- (running runs are bounded by the workers' capacity).
CREATE INDEX rota_runs_running ON rota_runs (schedule, lease_expires_at)
    WHERE state = 'running';
-- History: list_runs, active_runs, prune_runs.
CREATE INDEX rota_runs_schedule ON rota_runs (schedule, created_at, id);
CREATE INDEX rota_runs_created ON rota_runs (created_at, id);
