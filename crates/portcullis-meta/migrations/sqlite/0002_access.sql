-- Project members, robot accounts and the audit log.

CREATE TABLE project_members (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id       INTEGER NOT NULL,
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL,
    UNIQUE (project_id, user_id)
);
CREATE INDEX project_members_user ON project_members (user_id);

-- `name` is the full robot name (`robot$<project>+<name>` or `robot$<name>`).
-- `permissions` is the Harbor permission list as JSON; `expires_at` NULL means never.
CREATE TABLE robots (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    description   TEXT    NOT NULL DEFAULT '',
    level         TEXT    NOT NULL,
    project_id    INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    secret_hash   TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    duration      INTEGER NOT NULL,
    expires_at    TEXT,
    permissions   TEXT    NOT NULL DEFAULT '[]',
    creator       TEXT    NOT NULL DEFAULT '',
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL
);
CREATE INDEX robots_project ON robots (project_id);

-- No foreign key on project_id: the record outlives the project it names.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    op_time       TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    operation     TEXT    NOT NULL,
    resource_type TEXT    NOT NULL,
    resource      TEXT    NOT NULL,
    project_id    INTEGER,
    client_ip     TEXT    NOT NULL DEFAULT '',
    success       BOOLEAN NOT NULL,
    description   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_time ON audit_log (op_time);
CREATE INDEX audit_log_project ON audit_log (project_id, op_time);
