//! Scan-all: a job that queues a scan of every scannable artifact, runnable by hand or
//! on a cron schedule row, resumable after a crash (artifacts it already queued are
//! skipped), with Harbor's metrics counted from the reports it asked for.

use std::collections::HashMap;
use std::sync::Arc;

use portcullis_jobs::{JobContext, JobError, Outcome, Worker};
use portcullis_meta::{Job, JobQuery, NewJob, NewSchedule, ReportKey, ReportStatus, Schedule};
use portcullis_types::ErrorCode;
use serde_json::{Value, json};

use super::service::is_scannable;
use super::{SCAN_ALL_JOB, Scanning, VULN_MIME};
use crate::context::RequestCtx;
use crate::error::{Error, Result};

/// Scan-all is a system administrator's business.
fn admin_only(ctx: &RequestCtx) -> Result<()> {
    if ctx.principal.is_sysadmin() {
        Ok(())
    } else {
        Err(crate::access::forbidden(&ctx.principal))
    }
}

/// Artifacts read per page.
const PAGE: u32 = 200;

/// Runs `scan-all` jobs.
pub struct ScanAllWorker {
    pub scanning: Arc<Scanning>,
}

impl Worker for ScanAllWorker {
    async fn run(&self, job: &JobContext) -> std::result::Result<Outcome, JobError> {
        let scanning = &self.scanning;
        let mut engines: HashMap<String, Option<String>> = HashMap::new();
        let (mut after, mut queued, mut seen) = (String::new(), 0u64, 0u64);
        loop {
            if job.is_cancelled() {
                return Err(JobError::permanent("scan-all stopped"));
            }
            let page = scanning
                .meta
                .scans()
                .scannable_artifacts(&after, PAGE)
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.digest.clone();
            for a in page {
                seen += 1;
                if !is_scannable(&a.media_type, a.config_media_type.as_deref(), a.has_subject) {
                    continue;
                }
                let project = a.repository.split('/').next().unwrap_or("").to_string();
                if !engines.contains_key(&project) {
                    let id = match scanning.access.project_info(&project).await {
                        Ok(Some(p)) => scanning.resolver().scanner_id_for(p.id).await,
                        Ok(None) => None,
                        Err(e) => return Err(JobError::retry(e)),
                    };
                    engines.insert(project.clone(), id);
                }
                let Some(scanner) = engines.get(&project).cloned().flatten() else {
                    continue;
                };
                let key = ReportKey {
                    digest: a.digest.clone(),
                    scanner: scanner.clone(),
                    mime_type: VULN_MIME.to_string(),
                };
                // A run taken up again after a crash skips what it already queued.
                let existing = scanning.meta.scans().get_report(&key).await?;
                if existing.is_some_and(|r| r.trigger_id == Some(job.id().0)) {
                    continue;
                }
                scanning
                    .queue_scan(
                        &scanner,
                        &a.digest,
                        &a.media_type,
                        &a.repository,
                        false,
                        Some(job.id().0),
                    )
                    .await
                    .map_err(JobError::retry)?;
                queued += 1;
            }
            let _ = job
                .progress(
                    0,
                    &format!("{seen} artifacts looked at, {queued} scans queued"),
                )
                .await;
        }
        tracing::info!(queued, "scan-all queued its scans");
        Ok(Outcome::Done)
    }
}

fn schedule_type(cron: &str) -> &'static str {
    match cron {
        "0 0 * * * *" => "Hourly",
        "0 0 0 * * *" => "Daily",
        "0 0 0 * * 0" => "Weekly",
        _ => "Custom",
    }
}

/// Harbor's `Schedule` object of the scan-all schedule row.
pub fn schedule_json(row: &Schedule) -> Value {
    let schedule = if row.enabled {
        json!({ "type": schedule_type(&row.cron), "cron": row.cron,
                "next_scheduled_time": super::service::harbor_time(row.next_run_at) })
    } else {
        json!({ "type": "None" })
    };
    json!({
        "id": row.id.0,
        "schedule": schedule,
        "parameters": {},
        "creation_time": super::service::harbor_time(row.created_at),
        "update_time": super::service::harbor_time(row.updated_at),
    })
}

impl Scanning {
    async fn latest_scan_all(&self, scheduled_only: bool) -> Result<Option<Job>> {
        let (jobs, _) = self
            .meta
            .jobs()
            .list_jobs(&JobQuery {
                kind: Some(SCAN_ALL_JOB.to_string()),
                state: None,
                page: 1,
                page_size: if scheduled_only { 50 } else { 1 },
            })
            .await?;
        Ok(jobs.into_iter().find(|j| {
            !scheduled_only || j.payload.get("trigger").and_then(Value::as_str) == Some("Schedule")
        }))
    }

    /// Harbor's `Stats` of the latest scan-all run (or the latest scheduled one).
    async fn latest_scan_all_metrics(&self, scheduled_only: bool) -> Result<Value> {
        let Some(job) = self.latest_scan_all(scheduled_only).await? else {
            return Ok(json!({ "total": 0, "completed": 0, "metrics": {}, "ongoing": false }));
        };
        let counts = self.meta.scans().report_counts(job.id.0).await?;
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let completed: u64 = counts
            .iter()
            .filter(|(s, _)| s.is_finished())
            .map(|(_, n)| n)
            .sum();
        let metrics: serde_json::Map<String, Value> = counts
            .iter()
            .map(|(s, n)| (s.as_str().to_string(), json!(n)))
            .collect();
        let trigger = job
            .payload
            .get("trigger")
            .and_then(Value::as_str)
            .unwrap_or("Manual")
            .to_string();
        Ok(json!({
            "total": total,
            "completed": completed,
            "metrics": metrics,
            "ongoing": !job.state.is_finished() || completed < total,
            "trigger": trigger,
        }))
    }
}

impl Scanning {
    /// `GET /api/v2.0/system/scanAll/schedule`.
    /// The scan-all schedule; `None` when none was ever set (Harbor then answers 200
    /// with an empty body).
    pub async fn scan_all_schedule(&self, ctx: &RequestCtx) -> Result<Option<Value>> {
        admin_only(ctx)?;
        let row = self.meta.schedules().get_schedule(SCAN_ALL_JOB).await?;
        Ok(row.as_ref().map(schedule_json))
    }

    /// `PUT`/`POST /api/v2.0/system/scanAll/schedule`: `Manual` runs a scan-all now
    /// (`409` while one runs); `None` disables the schedule; the others set its cron.
    pub async fn set_scan_all_schedule(
        &self,
        ctx: &RequestCtx,
        kind: &str,
        cron: Option<&str>,
    ) -> Result<()> {
        admin_only(ctx)?;
        if kind == "Manual" {
            let job =
                NewJob::new(SCAN_ALL_JOB, json!({ "trigger": "Manual" })).dedup_key(SCAN_ALL_JOB);
            let queued = self.enqueue(&job).await?;
            if !queued.created {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    "a scan-all is already running",
                ));
            }
            return Ok(());
        }
        let cron = crate::purge::cron_of(if kind == "Schedule" { "Custom" } else { kind }, cron)?;
        let enabled = cron.is_some();
        let cron = cron.unwrap_or_else(|| "0 0 0 * * *".to_string());
        let next_run_at = portcullis_jobs::next_run_after(&cron, time::OffsetDateTime::now_utc())
            .map_err(Error::internal)?;
        self.meta
            .schedules()
            .put_schedule(&NewSchedule {
                name: SCAN_ALL_JOB.into(),
                kind: SCAN_ALL_JOB.into(),
                payload: json!({ "trigger": "Schedule" }),
                cron,
                max_attempts: 3,
                enabled,
                next_run_at,
            })
            .await?;
        Ok(())
    }

    /// `POST /api/v2.0/system/scanAll/stop`: stops the running scan-all and the scans it
    /// queued that have not finished.
    pub async fn stop_scan_all(&self, ctx: &RequestCtx) -> Result<()> {
        admin_only(ctx)?;
        let Some(job) = self.latest_scan_all(false).await? else {
            return Err(Error::new(ErrorCode::BadRequest, "no scan-all has run"));
        };
        let unfinished = self.meta.scans().unfinished_reports(job.id.0).await?;
        if job.state.is_finished() && unfinished.is_empty() {
            return Err(Error::new(ErrorCode::BadRequest, "no scan-all is running"));
        }
        if !job.state.is_finished() {
            self.stop_job(job.id).await?;
        }
        for r in unfinished {
            let stopped = match r.job_id {
                Some(j) => self.stop_job(portcullis_meta::JobId(j)).await?,
                None => portcullis_meta::StopRequest::Stopped,
            };
            if stopped != portcullis_meta::StopRequest::Requested {
                let done = portcullis_meta::FinishedScan {
                    log: format!("{}stopped with its scan-all\n", r.log),
                    ..Default::default()
                };
                self.meta
                    .scans()
                    .finish_scan(&r.key, ReportStatus::Stopped, &done)
                    .await?;
            }
        }
        Ok(())
    }

    /// `GET /api/v2.0/scans/all/metrics` (or `…/scans/schedule/metrics`).
    pub async fn scan_all_metrics(&self, ctx: &RequestCtx, scheduled_only: bool) -> Result<Value> {
        admin_only(ctx)?;
        self.latest_scan_all_metrics(scheduled_only).await
    }
}
