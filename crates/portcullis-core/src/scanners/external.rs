//! Scanning one image with an external adapter: check what it consumes and produces,
//! send the scan request with a registry token that may only pull that repository and
//! expires with the scan, then poll the report, honouring `302` + `Refresh-After`, until
//! it is ready, fails, or the deadline passes.

use std::fmt::Write as _;
use std::time::Duration;

use portcullis_jobs::CancellationToken;
use portcullis_meta::ScannerRegistration;
use portcullis_types::Digest;

use super::Scanners;
use super::client::{AdapterEndpoint, AdapterError, ReportPoll, ScannerProduct};
use super::mime;
use crate::auth::AccessEntry;

/// How long one external scan may take, from the request to the report; the pull
/// token given to the adapter expires with it.
pub const SCAN_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// The subject of pull tokens handed to adapters, as the audit log shows it.
pub const TOKEN_SUBJECT: &str = crate::auth::SCANNER_TOKEN_SUBJECT;

/// The image to scan.
#[derive(Debug, Clone, Copy)]
pub struct ExternalTarget<'a> {
    /// `project/path` of a repository holding the image.
    pub repository: &'a str,
    pub digest: &'a Digest,
    /// The manifest's media type.
    pub media_type: &'a str,
}

/// A report produced by an adapter.
#[derive(Debug, Clone)]
pub struct ExternalReport {
    /// Harbor's vulnerability report.
    pub report: serde_json::Value,
    /// Who scanned, from the adapter's metadata.
    pub scanner: ScannerProduct,
    /// What happened, step by step.
    pub log: String,
}

/// A scan an adapter did not complete.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ExternalError {
    pub message: String,
    /// Worth another attempt later (unreachable adapter, deadline, lost request).
    pub retryable: bool,
    pub log: String,
}

fn fail(message: String, retryable: bool, log: &str) -> ExternalError {
    ExternalError {
        log: format!("{log}{message}\n"),
        message,
        retryable,
    }
}

fn adapter_failure(e: AdapterError, step: &str, log: &str) -> ExternalError {
    let retryable = match &e {
        // The adapter forgot the request (restarted): a new attempt submits it again.
        AdapterError::Status { status: 404, .. } => step == "report",
        other => other.is_transient(),
    };
    fail(format!("{step}: {e}"), retryable, log)
}

/// The report type to ask for: the newest Harbor report type the adapter produces.
fn report_type(produces: &[String]) -> Option<&'static str> {
    [mime::REPORT_1_1, mime::REPORT_HARBOR_1_0]
        .into_iter()
        .find(|m| produces.iter().any(|p| same_mime(p, m)))
}

fn same_mime(a: &str, b: &str) -> bool {
    let n = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    n(a) == n(b)
}

impl Scanners {
    /// The registry URL an adapter pulls from: the internal address when the
    /// registration asks for it (or no external URL is configured), else the external URL.
    pub fn registry_url_for(&self, r: &ScannerRegistration) -> Option<String> {
        let internal = self.internal_url();
        match (&self.external_url, internal) {
            (Some(_), Some(i)) if r.use_internal_addr => Some(i),
            (Some(e), _) => Some(e.clone()),
            (None, i) => i,
        }
    }

    /// Scans one image manifest with the adapter of `r` (see the module docs).
    pub async fn scan_with_adapter(
        &self,
        r: &ScannerRegistration,
        target: ExternalTarget<'_>,
        cancel: &CancellationToken,
        deadline: Duration,
    ) -> Result<ExternalReport, ExternalError> {
        let mut log = String::new();
        if r.disabled {
            return Err(fail(format!("scanner {} is disabled", r.name), false, &log));
        }
        let ep = AdapterEndpoint::of(r);
        let client = &self.client;
        let started = tokio::time::Instant::now();
        let meta = client
            .metadata(&ep)
            .await
            .map_err(|e| adapter_failure(e, "metadata", &log))?;
        let _ = writeln!(
            log,
            "scanner {} ({} {} by {})",
            r.name, meta.scanner.name, meta.scanner.version, meta.scanner.vendor
        );
        let capability = meta
            .capabilities
            .iter()
            .filter(|c| c.kind.as_deref().unwrap_or("vulnerability") == "vulnerability")
            .find(|c| {
                c.consumes_mime_types
                    .iter()
                    .any(|m| same_mime(m, target.media_type))
            })
            .ok_or_else(|| {
                fail(
                    format!(
                        "scanner {} cannot scan artifacts of type {}",
                        r.name, target.media_type
                    ),
                    false,
                    &log,
                )
            })?;
        let report_mime = report_type(&capability.produces_mime_types).ok_or_else(|| {
            fail(
                format!("scanner {} produces no Harbor vulnerability report", r.name),
                false,
                &log,
            )
        })?;
        let registry_url = self.registry_url_for(r).ok_or_else(|| {
            fail(
                "the registry's own address is unknown: set --external-url".into(),
                false,
                &log,
            )
        })?;
        // Pull only, this repository only, and no longer than the scan may take.
        let token = self
            .access
            .tokens
            .issue_for(
                Some(TOKEN_SUBJECT),
                vec![AccessEntry {
                    kind: "repository".into(),
                    name: target.repository.to_string(),
                    actions: vec!["pull".into()],
                }],
                deadline,
            )
            .map_err(|e| fail(format!("issuing the pull token: {e}"), true, &log))?;
        let request = serde_json::json!({
            "registry": { "url": registry_url, "authorization": format!("Bearer {}", token.token) },
            "artifact": {
                "repository": target.repository,
                "digest": target.digest.as_str(),
                "mime_type": target.media_type,
            },
            "enabled_capabilities": [{ "type": "vulnerability", "produces_mime_types": [report_mime] }],
        });
        let id = client
            .submit(&ep, &request)
            .await
            .map_err(|e| adapter_failure(e, "scan request", &log))?;
        let _ = writeln!(
            log,
            "scan request {id} accepted; pulling from {registry_url}"
        );
        loop {
            match client.report(&ep, &id, report_mime).await {
                Ok(ReportPoll::Ready(report)) => {
                    let _ = writeln!(log, "report received ({report_mime})");
                    return Ok(ExternalReport {
                        report,
                        scanner: meta.scanner,
                        log,
                    });
                }
                Ok(ReportPoll::NotYet(after)) => {
                    let left = deadline.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(fail(
                            format!("no report within {} s", deadline.as_secs()),
                            true,
                            &log,
                        ));
                    }
                    let _ = writeln!(
                        log,
                        "report not ready; asking again in {} s",
                        after.as_secs()
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(after.min(left)) => {}
                        _ = cancel.cancelled() => {
                            return Err(fail("stopped while waiting for the report".into(), true, &log));
                        }
                    }
                }
                Err(e) => return Err(adapter_failure(e, "report", &log)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_report_type_is_chosen() {
        let both = vec![
            "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0".to_string(),
            "application/vnd.security.vulnerability.report;version=1.1".to_string(),
        ];
        assert_eq!(report_type(&both), Some(mime::REPORT_1_1));
        assert_eq!(report_type(&both[..1]), Some(mime::REPORT_HARBOR_1_0));
        assert_eq!(
            report_type(&["application/vnd.scanner.adapter.vuln.report.raw".to_string()]),
            None
        );
    }
}
