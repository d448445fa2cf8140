-- Scanning: one report per (artifact digest, scanner, report MIME type), and the package
-- inventory of each layer so that a rescan re-reads no layer.
-- Times are UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order is time order).

CREATE TABLE scan_reports (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid             TEXT    NOT NULL UNIQUE,
    digest           TEXT    NOT NULL,
    scanner          TEXT    NOT NULL,
    mime_type        TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'Pending'
                     CHECK (status IN ('Pending', 'Running', 'Success', 'Error', 'Stopped')),
    job_id           INTEGER,
    -- The scan-all run that last asked for this report (its metrics count by it).
    trigger_id       INTEGER,
    start_time       TEXT,
    end_time         TEXT,
    complete_percent INTEGER NOT NULL DEFAULT 0,
    severity         TEXT,
    total            INTEGER NOT NULL DEFAULT 0,
    fixable          INTEGER NOT NULL DEFAULT 0,
    summary          TEXT    NOT NULL DEFAULT '{}',
    scanner_name     TEXT    NOT NULL DEFAULT '',
    scanner_vendor   TEXT    NOT NULL DEFAULT '',
    scanner_version  TEXT    NOT NULL DEFAULT '',
    -- The report document, gzip-compressed; one per row, never one row per finding.
    report           BLOB,
    log              TEXT    NOT NULL DEFAULT '',
    -- Layer digests (bottom first) of each image the report covers: a rescan's input.
    layers           TEXT    NOT NULL DEFAULT '[]',
    db_generation    INTEGER,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    UNIQUE (digest, scanner, mime_type)
);
CREATE INDEX scan_reports_trigger ON scan_reports (trigger_id, status);
CREATE INDEX scan_reports_status ON scan_reports (scanner, status);

CREATE TABLE layer_inventories (
    digest     TEXT    PRIMARY KEY,
    -- The scanner's inventory format version; older entries are ignored.
    version    INTEGER NOT NULL,
    inventory  BLOB    NOT NULL,
    created_at TEXT    NOT NULL
);

-- CVE exports (Harbor's "scan data export"): the job that builds one, and where its
-- files went in the blob store once built.
CREATE TABLE cve_exports (
    job_id      INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    user_name   TEXT    NOT NULL,
    job_name    TEXT    NOT NULL DEFAULT '',
    csv_digest  TEXT,
    json_digest TEXT,
    row_count   INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL
);
CREATE INDEX cve_exports_user ON cve_exports (user_id, job_id);
