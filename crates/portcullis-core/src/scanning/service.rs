//! Scanning as the API sees it: triggers (push, manual), stop, logs, reports and the
//! scan overview of artifact listings.

use std::collections::HashMap;

use portcullis_meta::{Artifact, NewJob, ReportKey, ReportStatus, ScanReport, StopRequest};
use portcullis_types::{ErrorCode, media};
use serde_json::{Value, json};

use super::codec::unpack;
use super::job::ScanJob;
use super::{SBOM_MIME, SCAN_JOB, Scanning, VULN_MIME, VULN_MIME_V1};
use crate::context::RequestCtx;
use crate::error::{Error, Result};

/// `scan_type` of a scan request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanType {
    Vulnerability,
    Sbom,
}

impl ScanType {
    /// Harbor's `scan_type`; absent means a vulnerability scan.
    pub fn parse(s: Option<&str>) -> Result<Self> {
        match s {
            None | Some("") | Some("vulnerability") => Ok(ScanType::Vulnerability),
            Some("sbom") => Ok(ScanType::Sbom),
            Some(other) => Err(Error::new(
                ErrorCode::BadRequest,
                format!("invalid scan_type {other:?}: use vulnerability or sbom"),
            )),
        }
    }

    fn resource(self) -> &'static str {
        match self {
            ScanType::Vulnerability => "scan",
            ScanType::Sbom => "sbom",
        }
    }
}

/// Whether the built-in pipeline can scan an artifact: images and image indexes, but
/// not signatures, SBOMs, charts or other artifacts.
pub fn is_scannable(media_type: &str, config_media_type: Option<&str>, has_subject: bool) -> bool {
    if has_subject {
        return false;
    }
    match media_type {
        media::OCI_INDEX | media::DOCKER_LIST => true,
        media::OCI_MANIFEST | media::DOCKER_MANIFEST => {
            matches!(
                config_media_type,
                Some(media::OCI_CONFIG | media::DOCKER_CONFIG)
            )
        }
        _ => false,
    }
}

pub(crate) fn scannable(a: &Artifact) -> bool {
    is_scannable(
        &a.media_type,
        a.config_media_type.as_deref(),
        a.subject.is_some(),
    )
}

pub(crate) fn harbor_time(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

fn duration_of(r: &ScanReport) -> i64 {
    match (r.start_time, r.end_time) {
        (Some(s), Some(e)) if r.status.is_finished() => (e - s).whole_seconds().max(0),
        _ => 0,
    }
}

/// Harbor's `NativeReportSummary` of a report.
pub fn overview_json(r: &ScanReport) -> Value {
    let summary: Value = serde_json::from_str(&r.summary).unwrap_or_else(|_| json!({}));
    let mut v = json!({
        "report_id": r.uuid,
        "scan_status": r.status.as_str(),
        "duration": duration_of(r),
        "complete_percent": if r.status == ReportStatus::Success { 100 } else { r.complete_percent },
        "scanner": { "name": r.scanner_name, "vendor": r.scanner_vendor, "version": r.scanner_version },
    });
    if let Some(s) = r.start_time {
        v["start_time"] = json!(harbor_time(s));
    }
    if let Some(e) = r.end_time.filter(|_| r.status.is_finished()) {
        v["end_time"] = json!(harbor_time(e));
    }
    if r.status == ReportStatus::Success {
        v["severity"] = json!(r.severity.clone().unwrap_or_else(|| "None".into()));
        v["summary"] = json!({ "total": r.total, "fixable": r.fixable, "summary": summary });
    }
    v
}

/// Harbor's `SBOMOverview` of an SBOM report.
fn sbom_overview_json(r: &ScanReport) -> Value {
    let mut v = json!({
        "report_id": r.uuid,
        "scan_status": r.status.as_str(),
        "duration": duration_of(r),
        "scanner": { "name": r.scanner_name, "vendor": r.scanner_vendor, "version": r.scanner_version },
    });
    if let Some(s) = r.start_time {
        v["start_time"] = json!(harbor_time(s));
    }
    if let Some(e) = r.end_time.filter(|_| r.status.is_finished()) {
        v["end_time"] = json!(harbor_time(e));
    }
    if let Some(doc) = r.report.as_deref().and_then(|b| unpack::<Value>(b).ok()) {
        v["sbom_digest"] = doc["sbom_digest"].clone();
    }
    v
}

impl Scanning {
    /// Queues a scan of one artifact by `scanner`; `Ok(false)` when one is already queued
    /// or running (the existing job keeps it).
    pub async fn queue_scan(
        &self,
        scanner: &str,
        digest: &str,
        media_type: &str,
        repository: &str,
        sbom: bool,
        trigger_id: Option<i64>,
    ) -> Result<bool> {
        let uuid = uuid::Uuid::new_v4().to_string();
        let payload = ScanJob {
            digest: digest.to_string(),
            media_type: media_type.to_string(),
            repository: repository.to_string(),
            scanner: scanner.to_string(),
            uuid: uuid.clone(),
            sbom,
        };
        let job = NewJob::new(
            SCAN_JOB,
            serde_json::to_value(&payload).map_err(Error::internal)?,
        )
        .dedup_key(format!(
            "{scanner} {digest} {}",
            if sbom { "sbom" } else { "vuln" }
        ));
        let queued = self.enqueue(&job).await?;
        let key = ReportKey {
            digest: digest.to_string(),
            scanner: scanner.to_string(),
            mime_type: VULN_MIME.to_string(),
        };
        // Scan-all counts reports by its run even when a scan was already queued.
        if queued.created || trigger_id.is_some() {
            self.meta
                .scans()
                .request_scan(&key, &uuid, queued.job.id.0, trigger_id)
                .await?;
        }
        crate::metrics::scan_queued();
        Ok(queued.created)
    }
}

impl Scanning {
    /// `POST …/artifacts/{reference}/scan`.
    pub async fn request_artifact_scan(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
        scan_type: ScanType,
    ) -> Result<()> {
        let (p, _, r) = self
            .access
            .repository_for(
                &ctx.principal,
                project,
                repository,
                scan_type.resource(),
                "create",
            )
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        if !scannable(&a) {
            return Err(Error::new(
                ErrorCode::UnprocessableEntity,
                format!("artifact {reference} is not an image and cannot be scanned"),
            ));
        }
        let scanner = self
            .resolver()
            .scanner_id_for(p.id.0)
            .await
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::UnprocessableEntity,
                    "no scanner for this project",
                )
            })?;
        let queued = self
            .queue_scan(
                &scanner,
                a.digest.as_str(),
                &a.media_type,
                r.name.as_str(),
                scan_type == ScanType::Sbom,
                None,
            )
            .await?;
        if !queued {
            return Err(Error::new(
                ErrorCode::UnprocessableEntity,
                format!("artifact {reference} is already being scanned"),
            ));
        }
        Ok(())
    }

    /// `POST …/artifacts/{reference}/scan/stop`.
    pub async fn stop_artifact_scan(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
        scan_type: ScanType,
    ) -> Result<()> {
        let (p, _, r) = self
            .access
            .repository_for(
                &ctx.principal,
                project,
                repository,
                scan_type.resource(),
                "stop",
            )
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        let scanner = self
            .resolver()
            .scanner_id_for(p.id.0)
            .await
            .unwrap_or_else(|| super::BUILTIN_SCANNER.to_string());
        let key = ReportKey {
            digest: a.digest.to_string(),
            scanner,
            mime_type: VULN_MIME.to_string(),
        };
        let report = self.meta.scans().get_report(&key).await?;
        let Some((report, job)) = report
            .filter(|r| !r.status.is_finished())
            .and_then(|r| r.job_id.map(|j| (r, j)))
        else {
            return Err(Error::new(
                ErrorCode::UnprocessableEntity,
                format!("no scan of artifact {reference} is running"),
            ));
        };
        match self.stop_job(portcullis_meta::JobId(job)).await? {
            StopRequest::Requested => {}
            // Not started (or its job already ended without the report knowing): the
            // report ends here.
            StopRequest::Stopped | StopRequest::AlreadyFinished(_) => {
                let done = portcullis_meta::FinishedScan {
                    log: format!("{}stopped before it ran\n", report.log),
                    ..Default::default()
                };
                self.meta
                    .scans()
                    .finish_scan(&key, ReportStatus::Stopped, &done)
                    .await?;
                super::outcome::scan_outcome_decided(
                    self,
                    &key,
                    r.name.as_str(),
                    ReportStatus::Stopped,
                    None,
                    0.0,
                )
                .await;
            }
        }
        Ok(())
    }

    /// `GET …/artifacts/{reference}/scan/{report_id}/log`: the log of a report of this
    /// artifact or of one of its index children.
    pub async fn scan_log(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
        report_id: &str,
    ) -> Result<String> {
        let (_, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "scan", "read")
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        let missing = || Error::new(ErrorCode::NotFound, format!("report {report_id} not found"));
        let report = self
            .meta
            .scans()
            .get_report_by_uuid(report_id)
            .await?
            .ok_or_else(missing)?;
        let children = self.meta.artifacts().children_of(a.id).await?;
        let ours = report.key.digest == a.digest.as_str()
            || children
                .iter()
                .any(|c| c.digest.as_str() == report.key.digest);
        if !ours {
            return Err(missing());
        }
        Ok(report.log)
    }

    /// `GET …/artifacts/{reference}/additions/vulnerabilities`: the reports of the
    /// artifact keyed by MIME type, for the MIME types asked for (and known).
    pub async fn vulnerabilities_addition(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
        accepted: &[String],
    ) -> Result<serde_json::Map<String, Value>> {
        let (p, _, r) = self
            .access
            .repository_for(
                &ctx.principal,
                project,
                repository,
                "artifact-addition",
                "read",
            )
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        let mut out = serde_json::Map::new();
        let Some(scanner) = self.resolver().scanner_id_for(p.id.0).await else {
            return Ok(out);
        };
        let key = ReportKey {
            digest: a.digest.to_string(),
            scanner,
            mime_type: VULN_MIME.to_string(),
        };
        let Some(report) = self.meta.scans().get_report(&key).await? else {
            return Ok(out);
        };
        let Some(doc) = report.report.as_deref() else {
            return Ok(out);
        };
        let doc: Value = unpack(doc).map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
        for mime in accepted {
            if mime == VULN_MIME || mime == VULN_MIME_V1 {
                out.insert(mime.clone(), doc.clone());
            }
        }
        Ok(out)
    }

    /// Harbor's `scan_overview` (keyed by MIME type) of each artifact that has a report,
    /// by digest; `sbom` gives the `sbom_overview` instead.
    pub async fn scan_overviews(
        &self,
        project_id: i64,
        digests: &[String],
        sbom: bool,
    ) -> Result<HashMap<String, Value>> {
        let mut out = HashMap::new();
        let Some(scanner) = self.resolver().scanner_id_for(project_id).await else {
            return Ok(out);
        };
        let mime = if sbom { SBOM_MIME } else { VULN_MIME };
        for r in self.meta.scans().reports_of(digests, mime).await? {
            if r.key.scanner != scanner {
                continue;
            }
            let digest = r.key.digest.clone();
            let v = if sbom {
                // The document (a pointer to the SBOM artifact) is small: read it.
                let full = self.meta.scans().get_report(&r.key).await?.unwrap_or(r);
                sbom_overview_json(&full)
            } else {
                json!({ VULN_MIME: overview_json(&r) })
            };
            out.insert(digest, v);
        }
        Ok(out)
    }
}
