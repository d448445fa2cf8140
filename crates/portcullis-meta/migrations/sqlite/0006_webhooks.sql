-- Webhook policies and their deliveries (Harbor's executions and tasks).
-- A policy's targets and event types are JSON arrays; `secret` signs bodies (HMAC-SHA256).
CREATE TABLE webhook_policies (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    event_types   TEXT    NOT NULL DEFAULT '[]',
    targets       TEXT    NOT NULL DEFAULT '[]',
    secret        TEXT,
    creator       TEXT    NOT NULL DEFAULT '',
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL,
    UNIQUE (project_id, name)
);

-- One event matched by one policy.
CREATE TABLE webhook_executions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_id  INTEGER NOT NULL REFERENCES webhook_policies (id) ON DELETE CASCADE,
    event_type TEXT    NOT NULL,
    start_time TEXT    NOT NULL
);
CREATE INDEX webhook_executions_policy ON webhook_executions (policy_id, id);

-- One delivery of an execution to one target; its state is the job's (`job_id`).
-- `body` is sent byte for byte on every attempt, so signatures and ids stay stable.
CREATE TABLE webhook_tasks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id   INTEGER NOT NULL REFERENCES webhook_executions (id) ON DELETE CASCADE,
    job_id         INTEGER,
    notify_type    TEXT    NOT NULL,
    address        TEXT    NOT NULL,
    payload_format TEXT    NOT NULL,
    content_type   TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    creation_time  TEXT    NOT NULL
);
CREATE INDEX webhook_tasks_execution ON webhook_tasks (execution_id);

-- Every attempt of a task: what the receiver answered and how long it took.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     INTEGER NOT NULL REFERENCES webhook_tasks (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    response    TEXT    NOT NULL DEFAULT '',
    error       TEXT,
    at          TEXT    NOT NULL
);
CREATE INDEX webhook_attempts_task ON webhook_attempts (task_id, id);
