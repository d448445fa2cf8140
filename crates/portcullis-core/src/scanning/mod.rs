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
pub mod hub;
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

use portcullis_blob::BlobStore;
use portcullis_jobs::RunnerHandle;
use portcullis_meta::{Enqueued, MetaStore, NewJob};

use crate::access::Access;
use crate::cache::GateEpoch;
use crate::events::EventBus;

pub use builtin::{BUILTIN_SCANNER, BuiltinEngine};
pub use engine::{
    EngineError, EngineReport, EngineResolver, ScanEngine, ScanTarget, ScannerInfo, SingleEngine,
};
pub use sbom::SbomStore;
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

/// What scanning is built from: the built-in engine and the settings. The composition
/// root adds the services scanning reports to.
pub struct ScanSetup {
    pub engine: BuiltinEngine,
    pub settings: ScanSettings,
}

impl ScanSetup {
    /// The built-in engine with default limits and settings, its database under
    /// `data_dir` (tests, tools).
    pub fn builtin(meta: MetaStore, blobs: BlobStore, data_dir: &std::path::Path) -> Self {
        ScanSetup {
            engine: BuiltinEngine {
                blobs,
                meta,
                vulndb: Arc::new(VulnDbHolder::new(data_dir)),
                layer_cache: true,
                limits: portcullis_scan::Limits::default(),
                budget: portcullis_scan::MemoryBudget::mib(
                    portcullis_scan::MemoryBudget::DEFAULT_MIB,
                ),
            },
            settings: ScanSettings::default(),
        }
    }
}

/// The scanning service: scan requests and their jobs, reports and their overviews,
/// scan-all, CVE exports, and the engines that do the work.
pub struct Scanning {
    pub meta: MetaStore,
    pub(crate) blobs: BlobStore,
    pub(crate) access: Arc<Access>,
    pub(crate) events: Arc<EventBus>,
    /// Moved on when a report changes, so that pull-gate verdicts built on the old one go.
    pub(crate) epoch: Arc<GateEpoch>,
    pub vulndb: Arc<VulnDbHolder>,
    pub builtin: Arc<BuiltinEngine>,
    pub settings: ScanSettings,
    resolver: RwLock<Arc<dyn EngineResolver>>,
    runner: OnceLock<RunnerHandle>,
}

impl Scanning {
    /// Scanning with the built-in engine for every project (until scanner registrations
    /// take over the choice: [`Scanning::set_resolver`]).
    pub fn new(
        setup: ScanSetup,
        access: Arc<Access>,
        events: Arc<EventBus>,
        epoch: Arc<GateEpoch>,
    ) -> Self {
        let builtin = Arc::new(setup.engine);
        Scanning {
            meta: builtin.meta.clone(),
            blobs: builtin.blobs.clone(),
            vulndb: builtin.vulndb.clone(),
            resolver: RwLock::new(Arc::new(SingleEngine(builtin.clone()))),
            builtin,
            settings: setup.settings,
            access,
            events,
            epoch,
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
            None => self.meta.jobs().enqueue_job(job).await?,
        })
    }

    pub(crate) async fn stop_job(
        &self,
        id: portcullis_meta::JobId,
    ) -> crate::Result<portcullis_meta::StopRequest> {
        Ok(match self.runner.get() {
            Some(r) => r.stop(id).await.map_err(crate::Error::internal)?,
            None => self.meta.jobs().request_job_stop(id).await?,
        })
    }

    /// Version and update time of the vulnerability database in use (systeminfo and the
    /// scanner adapter's metadata).
    pub fn vulndb_status(&self) -> Option<VulnDbStatus> {
        self.vulndb.status()
    }
}
