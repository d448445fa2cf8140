-- Keys and certificates a project trusts for signatures: cosign public keys (PEM) and
-- notation trust anchors (PEM certificates). A signature counts only if it verifies
-- against one of them (when the project has any of that kind).

CREATE TABLE trusted_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    pem           TEXT NOT NULL,
    creation_time TEXT NOT NULL,
    UNIQUE (project_id, name)
);
