//! Scan reports, one per (artifact digest, scanner, report MIME type).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::rows::to_u64;
use crate::sql::{Arg, Sql, bind_args, in_tx, with_pool};
use crate::{Result, Scans};

/// Where a report is in its life, in Harbor's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ReportStatus {
    Pending,
    Running,
    Success,
    Error,
    Stopped,
}

impl ReportStatus {
    pub const ALL: [ReportStatus; 5] = [
        ReportStatus::Pending,
        ReportStatus::Running,
        ReportStatus::Success,
        ReportStatus::Error,
        ReportStatus::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Pending => "Pending",
            ReportStatus::Running => "Running",
            ReportStatus::Success => "Success",
            ReportStatus::Error => "Error",
            ReportStatus::Stopped => "Stopped",
        }
    }

    /// True once the scan has ended, one way or another.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ReportStatus::Success | ReportStatus::Error | ReportStatus::Stopped
        )
    }

    /// How bad a status is when an index sums up its children: the worst one wins.
    pub fn rank(self) -> u8 {
        match self {
            ReportStatus::Success => 0,
            ReportStatus::Stopped => 1,
            ReportStatus::Pending => 2,
            ReportStatus::Running => 3,
            ReportStatus::Error => 4,
        }
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReportStatus {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        ReportStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown report status {s:?}"))
    }
}

/// What names one report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportKey {
    pub digest: String,
    pub scanner: String,
    pub mime_type: String,
}

/// A report as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanReport {
    pub id: i64,
    /// Harbor's `report_id`.
    pub uuid: String,
    pub key: ReportKey,
    pub status: ReportStatus,
    pub job_id: Option<i64>,
    pub trigger_id: Option<i64>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
    pub complete_percent: u8,
    pub severity: Option<String>,
    pub total: u64,
    pub fixable: u64,
    /// Counts per severity, as JSON text (`{"High": 2}`).
    pub summary: String,
    pub scanner_name: String,
    pub scanner_vendor: String,
    pub scanner_version: String,
    /// The gzip-compressed report document.
    pub report: Option<Vec<u8>>,
    pub log: String,
    /// JSON: layer digests per image, bottom first.
    pub layers: String,
    pub db_generation: Option<i64>,
    pub updated_at: OffsetDateTime,
}

/// The outcome of a scan, written by [`Scans::finish_scan`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FinishedScan {
    pub severity: Option<String>,
    pub total: u64,
    pub fixable: u64,
    pub summary: String,
    pub scanner_name: String,
    pub scanner_vendor: String,
    pub scanner_version: String,
    pub report: Option<Vec<u8>>,
    pub log: String,
    pub layers: String,
    pub db_generation: Option<i64>,
}

/// Every column but the report document.
const LIGHT_COLUMNS: &str = "id, uuid, digest, scanner, mime_type, status, job_id, trigger_id, \
     start_time, end_time, complete_percent, severity, total, fixable, summary, scanner_name, \
     scanner_vendor, scanner_version, log, layers, db_generation, updated_at";
const COLUMNS: &str = "id, uuid, digest, scanner, mime_type, status, job_id, trigger_id, \
     start_time, end_time, complete_percent, severity, total, fixable, summary, scanner_name, \
     scanner_vendor, scanner_version, log, layers, db_generation, updated_at, report";

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: i64,
    uuid: String,
    digest: String,
    scanner: String,
    mime_type: String,
    status: String,
    job_id: Option<i64>,
    trigger_id: Option<i64>,
    start_time: Option<DbTime>,
    end_time: Option<DbTime>,
    complete_percent: i64,
    severity: Option<String>,
    total: i64,
    fixable: i64,
    summary: String,
    scanner_name: String,
    scanner_vendor: String,
    scanner_version: String,
    // Left out of listings (see LIGHT_COLUMNS).
    #[sqlx(default)]
    report: Option<Vec<u8>>,
    log: String,
    layers: String,
    db_generation: Option<i64>,
    updated_at: DbTime,
}

impl TryFrom<ReportRow> for ScanReport {
    type Error = crate::Error;

    fn try_from(r: ReportRow) -> Result<Self> {
        Ok(ScanReport {
            id: r.id,
            uuid: r.uuid,
            key: ReportKey {
                digest: r.digest,
                scanner: r.scanner,
                mime_type: r.mime_type,
            },
            status: r
                .status
                .parse()
                .map_err(|_| crate::error::corrupt("report status", &r.status))?,
            job_id: r.job_id,
            trigger_id: r.trigger_id,
            start_time: r.start_time.map(|t| t.0),
            end_time: r.end_time.map(|t| t.0),
            complete_percent: u8::try_from(r.complete_percent.clamp(0, 100)).unwrap_or(0),
            severity: r.severity,
            total: to_u64(r.total),
            fixable: to_u64(r.fixable),
            summary: r.summary,
            scanner_name: r.scanner_name,
            scanner_vendor: r.scanner_vendor,
            scanner_version: r.scanner_version,
            report: r.report,
            log: r.log,
            layers: r.layers,
            db_generation: r.db_generation,
            updated_at: r.updated_at.0,
        })
    }
}

/// digest, media type, config media type, subject, repository.
type ScannableRow = (String, String, Option<String>, Option<String>, String);

/// An artifact as scan-all walks them: one entry per distinct digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannableArtifact {
    pub digest: String,
    pub media_type: String,
    pub config_media_type: Option<String>,
    /// It is an accessory (signature, SBOM) of another artifact.
    pub has_subject: bool,
    /// One repository holding it (reports name it).
    pub repository: String,
}

impl Scans<'_> {
    /// Marks a scan as asked for: creates the report `Pending` (with `uuid` as its id), or
    /// moves an existing one back to `Pending`, keeping its last results until the new
    /// scan writes its own.
    pub async fn request_scan(
        self,
        key: &ReportKey,
        uuid: &str,
        job_id: i64,
        trigger_id: Option<i64>,
    ) -> Result<ScanReport> {
        let at = DbTime::from(now());
        let sql = format!(
            "INSERT INTO scan_reports (uuid, digest, scanner, mime_type, status, job_id, \
             trigger_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'Pending', $5, $6, $7, $7) \
             ON CONFLICT (digest, scanner, mime_type) DO UPDATE SET status = 'Pending', \
             job_id = excluded.job_id, trigger_id = excluded.trigger_id, \
             complete_percent = 0, updated_at = excluded.updated_at \
             RETURNING {COLUMNS}"
        );
        let row = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, ReportRow>(AssertSqlSafe(sql))
                .bind(uuid)
                .bind(&key.digest)
                .bind(&key.scanner)
                .bind(&key.mime_type)
                .bind(job_id)
                .bind(trigger_id)
                .bind(at)
                .fetch_one(pool)
                .await?
        });
        row.try_into()
    }

    /// The scan started (or restarted after a crash): `Running` from now, under `job_id`.
    /// Creates the report when a job runs without one (a crash before it was written).
    pub async fn start_scan(self, key: &ReportKey, uuid: &str, job_id: i64) -> Result<()> {
        let at = DbTime::from(now());
        with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO scan_reports (uuid, digest, scanner, mime_type, status, job_id, \
                 start_time, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'Running', $5, $6, $6, $6) \
                 ON CONFLICT (digest, scanner, mime_type) DO UPDATE SET status = 'Running', \
                 job_id = excluded.job_id, start_time = excluded.start_time, end_time = NULL, \
                 complete_percent = 0, updated_at = excluded.updated_at",
            )
            .bind(uuid)
            .bind(&key.digest)
            .bind(&key.scanner)
            .bind(&key.mime_type)
            .bind(job_id)
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Records how far a running scan got (0–100).
    pub async fn set_scan_progress(self, key: &ReportKey, percent: u8) -> Result<()> {
        with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE scan_reports SET complete_percent = $4 \
                 WHERE digest = $1 AND scanner = $2 AND mime_type = $3 AND status = 'Running'",
            )
            .bind(&key.digest)
            .bind(&key.scanner)
            .bind(&key.mime_type)
            .bind(i64::from(percent.min(100)))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Ends a scan with `status` (`Success`, `Error` or `Stopped`). `Success` replaces the
    /// results; the others keep the previous results and record only the log.
    pub async fn finish_scan(
        self,
        key: &ReportKey,
        status: ReportStatus,
        done: &FinishedScan,
    ) -> Result<()> {
        let at = DbTime::from(now());
        if status == ReportStatus::Success {
            with_pool!(self, write, |pool| {
                sqlx::query(
                    "UPDATE scan_reports SET status = 'Success', end_time = $4, \
                     complete_percent = 100, severity = $5, total = $6, fixable = $7, \
                     summary = $8, scanner_name = $9, scanner_vendor = $10, \
                     scanner_version = $11, report = $12, log = $13, layers = $14, \
                     db_generation = $15, updated_at = $4 \
                     WHERE digest = $1 AND scanner = $2 AND mime_type = $3",
                )
                .bind(&key.digest)
                .bind(&key.scanner)
                .bind(&key.mime_type)
                .bind(at)
                .bind(&done.severity)
                .bind(i64::try_from(done.total).unwrap_or(i64::MAX))
                .bind(i64::try_from(done.fixable).unwrap_or(i64::MAX))
                .bind(&done.summary)
                .bind(&done.scanner_name)
                .bind(&done.scanner_vendor)
                .bind(&done.scanner_version)
                .bind(&done.report)
                .bind(&done.log)
                .bind(&done.layers)
                .bind(done.db_generation)
                .execute(pool)
                .await?;
            });
        } else {
            with_pool!(self, write, |pool| {
                sqlx::query(
                    "UPDATE scan_reports SET status = $4, end_time = $5, log = $6, \
                     updated_at = $5 \
                     WHERE digest = $1 AND scanner = $2 AND mime_type = $3",
                )
                .bind(&key.digest)
                .bind(&key.scanner)
                .bind(&key.mime_type)
                .bind(status.as_str())
                .bind(at)
                .bind(&done.log)
                .execute(pool)
                .await?;
            });
        }
        Ok(())
    }

    /// The report for `key`.
    pub async fn get_report(self, key: &ReportKey) -> Result<Option<ScanReport>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM scan_reports \
             WHERE digest = $1 AND scanner = $2 AND mime_type = $3"
        );
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ReportRow>(AssertSqlSafe(sql))
                .bind(&key.digest)
                .bind(&key.scanner)
                .bind(&key.mime_type)
                .fetch_optional(pool)
                .await?
        });
        row.map(ScanReport::try_from).transpose()
    }

    /// The report with Harbor id `uuid`.
    pub async fn get_report_by_uuid(self, uuid: &str) -> Result<Option<ScanReport>> {
        let sql = format!("SELECT {COLUMNS} FROM scan_reports WHERE uuid = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ReportRow>(AssertSqlSafe(sql))
                .bind(uuid)
                .fetch_optional(pool)
                .await?
        });
        row.map(ScanReport::try_from).transpose()
    }

    /// Every report of these digests of one MIME type, whatever the scanner (the caller
    /// picks), without their documents.
    pub async fn reports_of(self, digests: &[String], mime_type: &str) -> Result<Vec<ScanReport>> {
        let mut out = Vec::new();
        for chunk in digests.chunks(400) {
            let mut q = Sql::new(&format!(
                "SELECT {LIGHT_COLUMNS} FROM scan_reports WHERE mime_type = "
            ));
            q.bind(Arg::Text(mime_type.to_string()))
                .push(" AND digest IN ")
                .bind_list(chunk.iter().map(|d| Arg::Text(d.clone())));
            let rows: Vec<ReportRow> = with_pool!(self, read, |pool| {
                bind_args!(sqlx::query_as(AssertSqlSafe(q.text)), q.args)
                    .fetch_all(pool)
                    .await?
            });
            for r in rows {
                out.push(r.try_into()?);
            }
        }
        Ok(out)
    }

    /// Counts per status of the reports a scan-all run asked for.
    pub async fn report_counts(self, trigger_id: i64) -> Result<Vec<(ReportStatus, u64)>> {
        let rows: Vec<(String, i64)> = with_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT status, COUNT(*) FROM scan_reports WHERE trigger_id = $1 GROUP BY status",
            )
            .bind(trigger_id)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(s, n)| {
                let st = s
                    .parse()
                    .map_err(|_| crate::error::corrupt("report status", &s))?;
                Ok((st, to_u64(n)))
            })
            .collect()
    }

    /// Reports a scan-all run asked for that have not finished.
    pub async fn unfinished_reports(self, trigger_id: i64) -> Result<Vec<ScanReport>> {
        let sql = format!(
            "SELECT {LIGHT_COLUMNS} FROM scan_reports WHERE trigger_id = $1 \
             AND status IN ('Pending', 'Running') ORDER BY id"
        );
        let rows: Vec<ReportRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(trigger_id)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(ScanReport::try_from).collect()
    }

    /// Successful reports of `scanner` judged against another database generation than
    /// `generation`, after id `after`, in id order: what a rescan still has to do.
    pub async fn reports_to_rejudge(
        self,
        scanner: &str,
        generation: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ScanReport>> {
        let sql = format!(
            "SELECT {} FROM scan_reports WHERE scanner = $1 AND status = 'Success' \
             AND (db_generation IS NULL OR db_generation <> $2) AND id > $3 \
             ORDER BY id LIMIT $4",
            LIGHT_COLUMNS
        );
        let rows: Vec<ReportRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(scanner)
                .bind(generation)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(ScanReport::try_from).collect()
    }

    /// Deletes the finished reports of digests no artifact has any more (the last artifact
    /// with that digest was deleted in every repository); reports of scans still pending
    /// or running are left for their job to finish. Returns how many went.
    pub async fn prune_reports(self) -> Result<u64> {
        let n = with_pool!(self, write, |pool| {
            sqlx::query(
                "DELETE FROM scan_reports WHERE status NOT IN ('Pending', 'Running') \
                 AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.digest = scan_reports.digest)",
            )
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n)
    }

    /// Replaces the results of successful reports judged again, in one transaction.
    pub async fn store_rejudged(self, updates: &[(i64, FinishedScan)]) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let at = DbTime::from(now());
        in_tx!(self, |tx| {
            for (id, done) in updates {
                sqlx::query(
                    "UPDATE scan_reports SET severity = $2, total = $3, fixable = $4, \
                     summary = $5, report = $6, db_generation = $7, updated_at = $8 \
                     WHERE id = $1 AND status = 'Success'",
                )
                .bind(*id)
                .bind(&done.severity)
                .bind(i64::try_from(done.total).unwrap_or(i64::MAX))
                .bind(i64::try_from(done.fixable).unwrap_or(i64::MAX))
                .bind(&done.summary)
                .bind(&done.report)
                .bind(done.db_generation)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// One page of distinct artifact digests after `after`, in digest order (scan-all).
    pub async fn scannable_artifacts(
        self,
        after: &str,
        limit: u32,
    ) -> Result<Vec<ScannableArtifact>> {
        let rows: Vec<ScannableRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT a.digest, MIN(a.media_type), MIN(a.config_media_type), \
                 MIN(a.subject_digest), MIN(r.name) FROM artifacts a \
                 JOIN repositories r ON r.id = a.repository_id \
                 WHERE a.digest > $1 GROUP BY a.digest ORDER BY a.digest LIMIT $2",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(digest, media_type, config_media_type, subject, repository)| ScannableArtifact {
                    digest,
                    media_type,
                    config_media_type,
                    has_subject: subject.is_some(),
                    repository,
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_rank() {
        for s in ReportStatus::ALL {
            assert_eq!(s.as_str().parse::<ReportStatus>(), Ok(s));
        }
        assert!("Done".parse::<ReportStatus>().is_err());
        let worst = ReportStatus::ALL.into_iter().max_by_key(|s| s.rank());
        assert_eq!(worst, Some(ReportStatus::Error));
        assert!(ReportStatus::Stopped.is_finished());
        assert!(!ReportStatus::Running.is_finished());
    }
}
