-- Users, projects, repositories, blobs, artifacts and tags.
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order is time order).
-- AUTOINCREMENT keeps ids from being reused after deletes: caches and events key on them.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL DEFAULT '',
    realname      TEXT    NOT NULL DEFAULT '',
    comment       TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    sysadmin      BOOLEAN NOT NULL DEFAULT FALSE,
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL
);

CREATE TABLE projects (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    owner_id      INTEGER NOT NULL REFERENCES users (id),
    public        BOOLEAN NOT NULL DEFAULT FALSE,
    metadata      TEXT    NOT NULL DEFAULT '{}',
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL
);
CREATE INDEX projects_owner ON projects (owner_id);

CREATE TABLE repositories (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects (id),
    name          TEXT    NOT NULL UNIQUE,
    description   TEXT    NOT NULL DEFAULT '',
    pull_count    INTEGER NOT NULL DEFAULT 0,
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL
);
CREATE INDEX repositories_project ON repositories (project_id, name);

CREATE TABLE blobs (
    digest        TEXT    PRIMARY KEY,
    size          INTEGER NOT NULL,
    media_type    TEXT,
    creation_time TEXT    NOT NULL
);

CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL REFERENCES blobs (digest),
    PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX repository_blobs_digest ON repository_blobs (digest);

CREATE TABLE project_blobs (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    digest     TEXT    NOT NULL REFERENCES blobs (digest),
    PRIMARY KEY (project_id, digest)
) WITHOUT ROWID;
CREATE INDEX project_blobs_digest ON project_blobs (digest);

CREATE TABLE artifacts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id     INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest            TEXT    NOT NULL,
    media_type        TEXT    NOT NULL,
    artifact_type     TEXT,
    config_media_type TEXT,
    manifest_size     INTEGER NOT NULL,
    size              INTEGER NOT NULL,
    subject_digest    TEXT,
    annotations       TEXT    NOT NULL DEFAULT '{}',
    extra_attrs       TEXT    NOT NULL DEFAULT '{}',
    push_time         TEXT    NOT NULL,
    pull_time         TEXT,
    UNIQUE (repository_id, digest)
);
CREATE INDEX artifacts_digest ON artifacts (digest);
CREATE INDEX artifacts_subject ON artifacts (repository_id, subject_digest)
    WHERE subject_digest IS NOT NULL;
CREATE INDEX artifacts_push_time ON artifacts (repository_id, push_time);

CREATE TABLE artifact_blobs (
    artifact_id INTEGER NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    digest      TEXT    NOT NULL REFERENCES blobs (digest),
    PRIMARY KEY (artifact_id, digest)
) WITHOUT ROWID;
CREATE INDEX artifact_blobs_digest ON artifact_blobs (digest);

CREATE TABLE artifact_references (
    parent_id    INTEGER NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    child_digest TEXT    NOT NULL,
    platform     TEXT,
    PRIMARY KEY (parent_id, child_digest)
) WITHOUT ROWID;
CREATE INDEX artifact_references_child ON artifact_references (child_digest);

CREATE TABLE tags (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    artifact_id   INTEGER NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    push_time     TEXT    NOT NULL,
    pull_time     TEXT,
    UNIQUE (repository_id, name)
);
CREATE INDEX tags_artifact ON tags (artifact_id);
