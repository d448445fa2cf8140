//! The one place where a scan's outcome is decided and announced.

use portcullis_meta::{ReportKey, ReportStatus};

use super::Scanning;
use super::VULN_MIME;
use super::service::overview_json;
use super::summary::ReportSummary;
use crate::events::{Event, EventType};

/// A scan ended with `status`: logged, counted for Prometheus, and emitted as Harbor's
/// SCANNING_COMPLETED, SCANNING_FAILED or SCANNING_STOPPED event (with the scan overview)
/// for webhooks.
pub async fn scan_outcome_decided(
    scanning: &Scanning,
    key: &ReportKey,
    repository: &str,
    status: ReportStatus,
    summary: Option<&ReportSummary>,
    seconds: f64,
) {
    crate::metrics::scan_finished(status, seconds);
    // A report changed: pull-gate verdicts built on the old one are dropped.
    scanning.epoch.changed();
    let kind = match status {
        ReportStatus::Success => {
            tracing::info!(
                digest = %key.digest, repository, scanner = %key.scanner,
                total = summary.map_or(0, |s| s.total), seconds, "scan completed"
            );
            EventType::ScanningCompleted
        }
        ReportStatus::Stopped => {
            tracing::info!(digest = %key.digest, repository, "scan stopped");
            EventType::ScanningStopped
        }
        _ => {
            tracing::warn!(digest = %key.digest, repository, status = %status, "scan failed");
            EventType::ScanningFailed
        }
    };
    let project_name = repository.split('/').next().unwrap_or_default();
    let Ok(Some(project)) = scanning.access.project_info(project_name).await else {
        return;
    };
    if !scanning.events.wants(project.id, kind) {
        return;
    }
    let overview = match scanning.meta.scans().get_report(key).await {
        Ok(Some(r)) => serde_json::json!({ VULN_MIME: overview_json(&r) }),
        _ => serde_json::json!({}),
    };
    scanning.events.emit(
        Event::artifact(
            kind,
            (&project).into(),
            repository,
            &key.digest,
            None,
            "system",
        )
        .with_scan_overview(overview),
    );
}
