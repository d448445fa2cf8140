//! The seam between the scan pipeline and whatever produces a report: the built-in
//! scanner, or an external scanner behind Harbor's pluggable scanner API.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use portcullis_jobs::CancellationToken;
use portcullis_types::Digest;
use serde::Serialize;

/// Who produced a report (Harbor's `scanner` object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannerInfo {
    pub name: String,
    pub vendor: String,
    pub version: String,
}

/// One image manifest to scan (index children are handed over one at a time).
#[derive(Debug, Clone)]
pub struct ScanTarget {
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// A repository holding it (`project/path`), for the report and for pull credentials.
    pub repository: String,
    /// Also produce an SBOM (SPDX JSON).
    pub want_sbom: bool,
}

/// What an engine returns for one image.
#[derive(Debug, Clone)]
pub struct EngineReport {
    /// Harbor's vulnerability report (`application/vnd.security.vulnerability.report;
    /// version=1.1`).
    pub report: serde_json::Value,
    /// The SBOM document, when asked for and supported.
    pub sbom: Option<serde_json::Value>,
    /// Human-readable account of the scan, served by `…/scan/{report_id}/log`.
    pub log: String,
    /// Layer digests read, bottom first; empty when the engine cannot rejudge
    /// cached inventories (external scanners).
    pub layers: Vec<Digest>,
    /// Generation of the vulnerability database used, when the engine knows it.
    pub db_generation: Option<u64>,
}

/// A scan that did not produce a report.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    pub message: String,
    /// Worth another attempt (a network error, a busy scanner).
    pub retryable: bool,
    /// What happened before the failure, for the report's log.
    pub log: String,
}

impl EngineError {
    pub fn permanent(message: impl Into<String>, log: impl Into<String>) -> Self {
        EngineError {
            message: message.into(),
            retryable: false,
            log: log.into(),
        }
    }

    pub fn retryable(message: impl Into<String>, log: impl Into<String>) -> Self {
        EngineError {
            message: message.into(),
            retryable: true,
            log: log.into(),
        }
    }
}

/// The boxed future of [`ScanEngine::scan`].
pub type ScanFuture<'a> =
    Pin<Box<dyn Future<Output = Result<EngineReport, EngineError>> + Send + 'a>>;

/// Produces vulnerability reports. The scan job calls [`ScanEngine::scan`] once per
/// image manifest; the job runner owns retries, leases and stop requests.
///
/// Cancellation: `cancel` fires when the scan is stopped or the node shuts down; the
/// engine should return soon after (with any error). A scan may be repeated after a
/// crash, so `scan` must be safe to run twice for the same target.
pub trait ScanEngine: Send + Sync + 'static {
    /// Stable id stored in report rows (the `scanner` of a report's key).
    fn id(&self) -> &str;
    /// Name, vendor and version shown in scan overviews.
    fn info(&self) -> ScannerInfo;
    /// Scans one image manifest.
    fn scan<'a>(&'a self, target: &'a ScanTarget, cancel: &'a CancellationToken) -> ScanFuture<'a>;
}

/// The boxed future of [`EngineResolver::engine_by_id`].
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = Option<Arc<dyn ScanEngine>>> + Send + 'a>>;

/// The boxed future of [`EngineResolver::scanner_id_for`].
pub type ResolveIdFuture<'a> = Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>>;

/// Picks the engine for a project's scans and finds an engine again by its id when a
/// queued job runs. The default answers the built-in engine for everything; external
/// scanner registrations install their own.
pub trait EngineResolver: Send + Sync + 'static {
    /// The engine that scans artifacts of `project_id`.
    fn engine_for(&self, project_id: i64) -> ResolveFuture<'_>;
    /// The engine with this [`ScanEngine::id`], if it still exists.
    fn engine_by_id<'a>(&'a self, id: &'a str) -> ResolveFuture<'a>;
    /// Only the [`ScanEngine::id`] of the engine for `project_id`: what reading reports
    /// needs (pull gate, overviews). Resolvers whose engines cost a network call to build
    /// answer this without it.
    fn scanner_id_for(&self, project_id: i64) -> ResolveIdFuture<'_> {
        Box::pin(async move {
            self.engine_for(project_id)
                .await
                .map(|e| e.id().to_string())
        })
    }
}

/// Resolves every project and id to one engine.
pub struct SingleEngine(pub Arc<dyn ScanEngine>);

impl EngineResolver for SingleEngine {
    fn engine_for(&self, _project_id: i64) -> ResolveFuture<'_> {
        let e = self.0.clone();
        Box::pin(async move { Some(e) })
    }

    fn engine_by_id<'a>(&'a self, id: &'a str) -> ResolveFuture<'a> {
        let e = (self.0.id() == id).then(|| self.0.clone());
        Box::pin(async move { e })
    }
}
