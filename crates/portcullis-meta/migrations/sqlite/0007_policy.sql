-- Pull-gate policies: immutable tag rules, storage quotas and CVE allowlists.

-- `rule` is the rule's Harbor JSON (selectors, action, template, params); priority and
-- disabled are columns as well because listing orders and filters on them.
CREATE TABLE immutable_rules (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    priority      INTEGER NOT NULL DEFAULT 0,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    rule          TEXT    NOT NULL,
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL
);
CREATE INDEX immutable_rules_project ON immutable_rules (project_id, priority);

-- One row per project. `hard` is the storage limit in bytes (-1: unlimited); `used` is the
-- size of the unique blobs and manifests the project's artifacts reference, recomputed in
-- the transaction of every manifest commit, copy and delete (the row is locked first, so
-- concurrent commits in one project are counted one after another).
CREATE TABLE quotas (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    hard          INTEGER NOT NULL DEFAULT -1,
    used          INTEGER NOT NULL DEFAULT 0,
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL
);

INSERT INTO quotas (project_id, hard, used, creation_time, update_time)
SELECT p.id, -1,
       (SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest IN (
            SELECT ab.digest FROM artifact_blobs ab
            JOIN artifacts a ON a.id = ab.artifact_id
            JOIN repositories r ON r.id = a.repository_id WHERE r.project_id = p.id
            UNION
            SELECT a.digest FROM artifacts a
            JOIN repositories r ON r.id = a.repository_id WHERE r.project_id = p.id)),
       p.creation_time, p.creation_time
FROM projects p;

-- The system allowlist is the one row without a project. `items` is a JSON array of CVE
-- ids; `expires_at` is seconds since the epoch (NULL: never).
CREATE TABLE cve_allowlists (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    items         TEXT    NOT NULL DEFAULT '[]',
    expires_at    INTEGER,
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL
);
INSERT INTO cve_allowlists (project_id, items, expires_at, creation_time, update_time)
VALUES (NULL, '[]', NULL, strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z',
        strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z');
