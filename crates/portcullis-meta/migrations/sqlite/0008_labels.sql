-- Harbor labels: global ones (scope 'g', no project) and project ones (scope 'p'),
-- and which artifacts carry them. Names are unique within their scope and project.

CREATE TABLE labels (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    color         TEXT    NOT NULL DEFAULT '',
    scope         TEXT    NOT NULL,
    project_id    INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    creation_time TEXT    NOT NULL,
    update_time   TEXT    NOT NULL
);
CREATE UNIQUE INDEX labels_unique_name ON labels (scope, COALESCE(project_id, 0), name);

CREATE TABLE artifact_labels (
    artifact_id   INTEGER NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    label_id      INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    creation_time TEXT    NOT NULL,
    PRIMARY KEY (artifact_id, label_id)
) WITHOUT ROWID;
CREATE INDEX artifact_labels_label ON artifact_labels (label_id);
