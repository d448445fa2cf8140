-- Scanner registrations (Harbor's pluggable scanner adapters), the scanner each project
-- chose, and the scan requests Portcullis accepts as an adapter itself.
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order is time order).

CREATE TABLE scanner_registrations (
    uuid              TEXT    PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    description       TEXT    NOT NULL DEFAULT '',
    url               TEXT    NOT NULL UNIQUE,
    disabled          BOOLEAN NOT NULL DEFAULT FALSE,
    is_default        BOOLEAN NOT NULL DEFAULT FALSE,
    auth              TEXT    NOT NULL DEFAULT '',
    access_credential TEXT    NOT NULL DEFAULT '',
    skip_cert_verify  BOOLEAN NOT NULL DEFAULT FALSE,
    use_internal_addr BOOLEAN NOT NULL DEFAULT FALSE,
    immutable         BOOLEAN NOT NULL DEFAULT FALSE,
    create_time       TEXT    NOT NULL,
    update_time       TEXT    NOT NULL
);
-- At most one system default.
CREATE UNIQUE INDEX scanner_registrations_default ON scanner_registrations (is_default)
    WHERE is_default;

CREATE TABLE project_scanners (
    project_id        INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    registration_uuid TEXT    NOT NULL REFERENCES scanner_registrations (uuid) ON DELETE CASCADE
);
CREATE INDEX project_scanners_registration ON project_scanners (registration_uuid);

CREATE TABLE adapter_scans (
    id            TEXT    PRIMARY KEY,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
    request       TEXT    NOT NULL,
    registry_auth TEXT,
    report        TEXT,
    error         TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX adapter_scans_created ON adapter_scans (created_at);
