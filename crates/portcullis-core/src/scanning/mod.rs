//! Scanning inside the registry: reports in the metadata store, scans as durable jobs,
//! triggers (push, manual, scan-all, a new vulnerability database), and the
//! [`ScanEngine`] seam that external scanners plug into.
//!
//! Flow: a trigger upserts the report `Pending` and enqueues a `scan` job; the job
//! (see [`job`]) marks it `Running`, asks the project's engine for a report per image
//! (an index is scanned per child and summed up), and records `Success`, `Error` or
//! `Stopped` in one place, [`outcome::scan_outcome_decided`].

pub mod builtin;
pub mod codec;
pub mod engine;
pub mod export;
pub mod job;
mod on_push;
pub mod outcome;
pub mod rejudge;
pub mod sbom;
pub mod scan_all;
pub mod service;
pub mod summary;
pub mod vulndb;

use std::sync::{Arc, OnceLock, RwLock};

use portcullis_jobs::RunnerHandle;
use portcullis_meta::{Enqueued, MetaStore, NewJob};

pub use builtin::{BUILTIN_SCANNER, BuiltinEngine};
pub use engine::{
    EngineError, EngineReport, EngineResolver, ScanEngine, ScanTarget, ScannerInfo, SingleEngine,
};
pub use vulndb::{VulnDbHolder, VulnDbStatus};

/// Scan on push, as a durable subscriber of the outbox.
pub(crate) fn scan_on_push(
    meta: MetaStore,
    scanning: Arc<Scanning>,
) -> Arc<dyn crate::events::DurableSubscriber> {
    Arc::new(on_push::ScanOnPush::new(meta, scanning))
}

/// Job kind of one artifact's scan.
pub const SCAN_JOB: &str = "scan";
/// Job kind (and schedule name) of scan-all.
pub const SCAN_ALL_JOB: &str = "scan-all";
/// Job kind of re-matching every report against a new vulnerability database.
pub const REJUDGE_JOB: &str = "rejudge";
/// Harbor's vulnerability report MIME type.
pub const VULN_MIME: &str = portcullis_scan::report::HARBOR_REPORT_MIME;
/// The older name Harbor clients may still ask for; served the same document.
pub const VULN_MIME_V1: &str =
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";
/// Harbor's SBOM report MIME type.
pub const SBOM_MIME: &str = "application/vnd.security.sbom.report+json; version=1.0";

/// Scanning settings.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// Cache layer inventories so that a new database re-judges without reading layers.
    pub layer_cache: bool,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings { layer_cache: true }
    }
}

/// The scanning service a registry holds once scanning is set up.
pub struct Scanning {
    pub meta: MetaStore,
    pub vulndb: Arc<VulnDbHolder>,
    pub builtin: Arc<BuiltinEngine>,
    pub settings: ScanSettings,
    resolver: RwLock<Arc<dyn EngineResolver>>,
    runner: OnceLock<RunnerHandle>,
}

impl Scanning {
    /// Scanning with the built-in engine for every project.
    pub fn new(builtin: BuiltinEngine, settings: ScanSettings) -> Self {
        let builtin = Arc::new(builtin);
        Scanning {
            meta: builtin.meta.clone(),
            vulndb: builtin.vulndb.clone(),
            resolver: RwLock::new(Arc::new(SingleEngine(builtin.clone()))),
            builtin,
            settings,
            runner: OnceLock::new(),
        }
    }

    /// Replaces how engines are picked (external scanner registrations).
    pub fn set_resolver(&self, resolver: Arc<dyn EngineResolver>) {
        *self.resolver.write().unwrap_or_else(|e| e.into_inner()) = resolver;
    }

    pub fn resolver(&self) -> Arc<dyn EngineResolver> {
        self.resolver
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Tells the service which runner runs its jobs (stop requests reach it at once).
    pub fn attach_runner(&self, runner: RunnerHandle) {
        let _ = self.runner.set(runner);
    }

    pub(crate) async fn enqueue(&self, job: &NewJob) -> crate::Result<Enqueued> {
        Ok(match self.runner.get() {
            Some(r) => r.enqueue(job).await.map_err(crate::Error::internal)?,
            None => self.meta.enqueue_job(job).await?,
        })
    }

    pub(crate) async fn stop_job(
        &self,
        id: portcullis_meta::JobId,
    ) -> crate::Result<portcullis_meta::StopRequest> {
        Ok(match self.runner.get() {
            Some(r) => r.stop(id).await.map_err(crate::Error::internal)?,
            None => self.meta.request_job_stop(id).await?,
        })
    }

    /// Version and update time of the vulnerability database in use (systeminfo and the
    /// scanner adapter's metadata).
    pub fn vulndb_status(&self) -> Option<VulnDbStatus> {
        self.vulndb.status()
    }
}
