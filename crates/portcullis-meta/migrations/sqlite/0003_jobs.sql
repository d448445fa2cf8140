-- The durable job queue and its cron schedules.
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order is time order).

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    payload          TEXT    NOT NULL DEFAULT 'null',
    state            TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'stopped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    next_run_at      TEXT    NOT NULL,
    lease_owner      TEXT,
    lease_deadline   TEXT,
    stop_requested   BOOLEAN NOT NULL DEFAULT FALSE,
    progress_percent INTEGER NOT NULL DEFAULT 0,
    progress_message TEXT    NOT NULL DEFAULT '',
    last_error       TEXT,
    dedup_key        TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    finished_at      TEXT
);
-- What a claim scans: due pending jobs and running jobs whose lease ran out.
CREATE INDEX jobs_claim ON jobs (kind, state, next_run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_deadline);
-- A dedup key names one piece of work: at most one unfinished job holds it per kind.
CREATE UNIQUE INDEX jobs_dedup ON jobs (kind, dedup_key)
    WHERE dedup_key IS NOT NULL AND state IN ('pending', 'running');

CREATE TABLE job_schedules (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL DEFAULT 'null',
    cron         TEXT    NOT NULL,
    max_attempts INTEGER NOT NULL,
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    next_run_at  TEXT    NOT NULL,
    last_run_at  TEXT,
    last_job_id  INTEGER,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
CREATE INDEX job_schedules_due ON job_schedules (enabled, next_run_at);
