//! The built-in scanner served as a Harbor scanner adapter: scan requests are stored and
//! run as durable jobs (`adapter-scan`) that pull the image from the registry the caller
//! named, scan it with `portcullis-scan`, and keep the report for the caller to fetch.

use std::sync::Arc;

use portcullis_jobs::{JobContext, JobError, NewJob, Outcome, Worker};
use portcullis_meta::{AdapterScan, AdapterScanState};
use portcullis_scan::report::{HarborArtifact, harbor_report};
use portcullis_scan::{ScanOptions, ScanStatus};
use portcullis_types::Digest;
use serde::Deserialize;

use super::Scanners;
use super::mime;
use super::pull::{PullError, Puller};
use crate::error::{Error, Result};

/// The job kind of an accepted scan request.
pub const ADAPTER_SCAN_JOB: &str = "adapter-scan";

/// Finished scan requests are kept this long for their caller to fetch the report.
const KEEP_FOR: time::Duration = time::Duration::hours(24);

#[derive(Debug, Clone, Deserialize)]
struct RegistryRef {
    #[serde(default)]
    url: String,
    #[serde(default)]
    authorization: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct ArtifactRef {
    #[serde(default)]
    repository: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    mime_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Capability {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ScanRequest {
    registry: RegistryRef,
    artifact: ArtifactRef,
    #[serde(default)]
    enabled_capabilities: Option<Vec<Capability>>,
}

/// Why a scan request was refused.
#[derive(Debug)]
pub enum Refused {
    /// Malformed JSON or wrongly typed values (400).
    Malformed(String),
    /// A field with an unusable value (422).
    Invalid(String),
    /// Something this scanner cannot do (501).
    Unsupported(String),
    /// The server failed (500).
    Failed(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Failed(e)
    }
}

/// Where a scan request stands, for `GET /api/v1/scan/{id}/report`.
#[derive(Debug, Clone)]
pub enum ScanProgress {
    Running,
    /// The report as JSON text.
    Done(String),
    Failed(String),
}

fn check(req: &ScanRequest) -> Result<Digest, Refused> {
    let url = reqwest::Url::parse(&req.registry.url)
        .map_err(|_| Refused::Invalid("registry.url is not a valid URL".into()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Invalid(
            "registry.url must be an http or https URL".into(),
        ));
    }
    let repo = &req.artifact.repository;
    if repo.is_empty()
        || repo.len() > 255
        || !repo
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
    {
        return Err(Refused::Invalid(format!(
            "artifact.repository {repo:?} is not a repository name"
        )));
    }
    let digest = Digest::parse(&req.artifact.digest).map_err(|_| {
        Refused::Invalid(format!(
            "artifact.digest {:?} is not a digest",
            req.artifact.digest
        ))
    })?;
    if let Some(m) = req.artifact.mime_type.as_deref().filter(|m| !m.is_empty())
        && !mime::CONSUMES.contains(&m)
    {
        return Err(Refused::Unsupported(format!(
            "artifacts of type {m} cannot be scanned"
        )));
    }
    if let Some(caps) = &req.enabled_capabilities
        && !caps.is_empty()
        && !caps.iter().any(|c| c.kind == "vulnerability")
    {
        return Err(Refused::Unsupported(
            "only the vulnerability capability is offered".into(),
        ));
    }
    Ok(digest)
}

impl Scanners {
    /// Whether the adapter API is served (an API key is configured).
    pub fn adapter_enabled(&self) -> bool {
        self.api_key.is_some()
    }

    /// Whether `presented` is the adapter API key (compared in constant time).
    pub fn adapter_key_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.api_key
            .as_deref()
            .is_some_and(|k| bool::from(k.as_bytes().ct_eq(presented.as_bytes())))
    }

    /// Accepts a scan request: stores it and queues its job. Returns the request id.
    pub async fn accept_adapter_scan(&self, body: &[u8]) -> Result<String, Refused> {
        let raw: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| Refused::Malformed(format!("the body is not JSON: {e}")))?;
        let req: ScanRequest = serde_json::from_value(raw.clone())
            .map_err(|e| Refused::Malformed(format!("the scan request is malformed: {e}")))?;
        check(&req)?;
        let id = uuid::Uuid::new_v4().to_string();
        // The credential is kept apart from the request and dropped once the scan ends.
        let mut stored = raw;
        if let Some(r) = stored.get_mut("registry").and_then(|r| r.as_object_mut()) {
            r.remove("authorization");
        }
        let auth = req
            .registry
            .authorization
            .as_deref()
            .filter(|a| !a.is_empty());
        self.meta
            .adapter_scans()
            .create_adapter_scan(&id, &stored, auth)
            .await
            .map_err(Error::from)?;
        let mut job = NewJob::new(ADAPTER_SCAN_JOB, serde_json::json!({ "id": id }));
        job.dedup_key = Some(id.clone());
        self.meta
            .jobs()
            .enqueue_job(&job)
            .await
            .map_err(Error::from)?;
        let before = time::OffsetDateTime::now_utc() - KEEP_FOR;
        if let Err(e) = self.meta.adapter_scans().purge_adapter_scans(before).await {
            tracing::warn!(error = %e, "purging old adapter scan requests failed");
        }
        Ok(id)
    }

    /// The state of a scan request; `None` when unknown.
    pub async fn adapter_scan_progress(&self, id: &str) -> Result<Option<ScanProgress>> {
        Ok(self
            .meta
            .adapter_scans()
            .get_adapter_scan(id)
            .await?
            .map(|s| match s.state {
                AdapterScanState::Pending | AdapterScanState::Running => ScanProgress::Running,
                AdapterScanState::Succeeded => ScanProgress::Done(s.report.unwrap_or_default()),
                AdapterScanState::Failed => ScanProgress::Failed(s.error.unwrap_or_default()),
            }))
    }

    /// Pulls and scans the image of a stored request; the Harbor report as JSON text.
    async fn run_adapter_scan(&self, scan: &AdapterScan) -> Result<String, PullError> {
        let req: ScanRequest =
            serde_json::from_value(scan.request.clone()).map_err(|e| PullError {
                message: format!("stored scan request is malformed: {e}"),
                transient: false,
            })?;
        let digest = Digest::parse(&req.artifact.digest).map_err(|e| PullError {
            message: e.to_string(),
            transient: false,
        })?;
        let limits = portcullis_scan::Limits::default();
        let puller = Puller {
            client: &self.pull_client,
            registry: req.registry.url.trim_end_matches('/'),
            repository: &req.artifact.repository,
            authorization: scan.registry_auth.as_deref(),
            max_blob_size: limits.max_layer_bytes,
        };
        let image = puller.pull(&digest).await?;
        let Some(db) = self.vulndb.current() else {
            return Err(PullError {
                message: "no vulnerability database has been imported \
                          (portcullis vulndb import or update)"
                    .into(),
                transient: false,
            });
        };
        let artifact = HarborArtifact {
            repository: Some(req.artifact.repository.clone()),
            digest: Some(digest.to_string()),
            tag: req.artifact.tag.clone(),
            mime_type: req.artifact.mime_type.clone(),
        };
        let memory = self.scan_budget.account();
        let scanned = tokio::task::spawn_blocking(move || {
            let opts = ScanOptions {
                limits,
                threads: 2,
                memory,
                ..ScanOptions::default()
            };
            portcullis_scan::scan_image(&image, &image.manifest, Some(&image.digest), &opts, &*db)
        })
        .await
        .map_err(|e| PullError {
            message: format!("the scan stopped: {e}"),
            transient: true,
        })?
        .map_err(|e| PullError {
            message: format!("the image could not be scanned: {e}"),
            transient: false,
        })?;
        let Some(image) = scanned.images.into_iter().next() else {
            return Err(PullError {
                message: "the manifest holds no image".into(),
                transient: false,
            });
        };
        if let ScanStatus::Unsupported { reason } = &image.result.status {
            return Err(PullError {
                message: format!("the image cannot be judged: {reason}"),
                transient: false,
            });
        }
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let report = harbor_report(&image.result, artifact, now);
        serde_json::to_string(&report).map_err(|e| PullError {
            message: e.to_string(),
            transient: false,
        })
    }
}

/// Runs accepted scan requests.
pub struct AdapterScanWorker {
    scanners: Arc<Scanners>,
}

impl AdapterScanWorker {
    pub fn new(scanners: Arc<Scanners>) -> Self {
        AdapterScanWorker { scanners }
    }
}

impl Worker for AdapterScanWorker {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        let id = job.payload()["id"]
            .as_str()
            .ok_or_else(|| JobError::permanent("adapter scan job without an id"))?
            .to_string();
        let meta = &self.scanners.meta;
        let Some(scan) = meta.adapter_scans().get_adapter_scan(&id).await? else {
            // Purged before it ran: nobody is waiting for it.
            return Ok(Outcome::Done);
        };
        if matches!(
            scan.state,
            AdapterScanState::Succeeded | AdapterScanState::Failed
        ) {
            return Ok(Outcome::Done);
        }
        meta.adapter_scans().start_adapter_scan(&id).await?;
        let result = tokio::select! {
            r = self.scanners.run_adapter_scan(&scan) => r,
            _ = job.cancelled() => return Err(JobError::retry("stopped before the scan ended")),
        };
        match result {
            Ok(report) => {
                meta.adapter_scans()
                    .finish_adapter_scan(&id, Ok(&report))
                    .await?;
                Ok(Outcome::Done)
            }
            Err(e) if e.transient && !job.is_last_attempt() => Err(JobError::retry(e)),
            Err(e) => {
                tracing::info!(scan = %id, error = %e, "adapter scan failed");
                meta.adapter_scans()
                    .finish_adapter_scan(&id, Err(&e.message))
                    .await?;
                Err(JobError::permanent(e))
            }
        }
    }
}
