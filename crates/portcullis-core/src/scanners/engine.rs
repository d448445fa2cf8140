//! External scanner registrations as engines of the scan pipeline: each project's scans
//! go to its chosen registration, else the system default; the built-in registration
//! is the built-in engine, any other one scans through its adapter.

use std::sync::Arc;

use portcullis_jobs::CancellationToken;
use portcullis_meta::{ProjectId, ScannerRegistration};

use super::BUILTIN_UUID;
use super::Scanners;
use super::external::{ExternalTarget, SCAN_DEADLINE};
use crate::scanning::engine::{
    EngineError, EngineReport, EngineResolver, ResolveFuture, ResolveIdFuture, ScanEngine,
    ScanFuture, ScanTarget, ScannerInfo,
};

/// One external registration as a scan engine; its id is the registration's uuid.
pub struct AdapterEngine {
    scanners: Arc<Scanners>,
    registration: ScannerRegistration,
    info: ScannerInfo,
}

impl ScanEngine for AdapterEngine {
    fn id(&self) -> &str {
        &self.registration.uuid
    }

    fn info(&self) -> ScannerInfo {
        self.info.clone()
    }

    fn scan<'a>(&'a self, target: &'a ScanTarget, cancel: &'a CancellationToken) -> ScanFuture<'a> {
        Box::pin(async move {
            let t = ExternalTarget {
                repository: &target.repository,
                digest: &target.digest,
                media_type: &target.media_type,
            };
            match self
                .scanners
                .scan_with_adapter(&self.registration, t, cancel, SCAN_DEADLINE)
                .await
            {
                Ok(r) => Ok(EngineReport {
                    report: r.report,
                    sbom: None,
                    log: r.log,
                    layers: Vec::new(),
                    db_generation: None,
                }),
                Err(e) if e.retryable => Err(EngineError::retryable(e.message, e.log)),
                Err(e) => Err(EngineError::permanent(e.message, e.log)),
            }
        })
    }
}

/// Picks engines from scanner registrations.
pub struct RegistrationResolver {
    scanners: Arc<Scanners>,
    builtin: Arc<dyn ScanEngine>,
}

impl RegistrationResolver {
    pub fn new(scanners: Arc<Scanners>, builtin: Arc<dyn ScanEngine>) -> Self {
        RegistrationResolver { scanners, builtin }
    }

    async fn engine_of(&self, r: ScannerRegistration) -> Arc<dyn ScanEngine> {
        if r.uuid == BUILTIN_UUID {
            return self.builtin.clone();
        }
        // The scanner shown in overviews is what the adapter says it is; its registration
        // name stands in while the adapter does not answer.
        let info = match self
            .scanners
            .client
            .metadata(&super::client::AdapterEndpoint::of(&r))
            .await
        {
            Ok(m) => ScannerInfo {
                name: m.scanner.name,
                vendor: m.scanner.vendor,
                version: m.scanner.version,
            },
            Err(_) => ScannerInfo {
                name: r.name.clone(),
                vendor: String::new(),
                version: String::new(),
            },
        };
        Arc::new(AdapterEngine {
            scanners: self.scanners.clone(),
            registration: r,
            info,
        })
    }
}

impl RegistrationResolver {
    /// The project's registration, else the default one; `None` means the built-in.
    async fn chosen(&self, project_id: i64) -> Option<ScannerRegistration> {
        match self
            .scanners
            .meta
            .scanners()
            .project_scanner(ProjectId(project_id))
            .await
        {
            Ok(Some(r)) => Some(r),
            Ok(None) => self
                .scanners
                .meta
                .scanners()
                .default_scanner()
                .await
                .ok()
                .flatten(),
            Err(e) => {
                tracing::warn!(error = %e, "reading the project's scanner failed");
                None
            }
        }
    }
}

impl EngineResolver for RegistrationResolver {
    fn engine_for(&self, project_id: i64) -> ResolveFuture<'_> {
        Box::pin(async move {
            match self.chosen(project_id).await {
                Some(r) => Some(self.engine_of(r).await),
                None => Some(self.builtin.clone()),
            }
        })
    }

    fn scanner_id_for(&self, project_id: i64) -> ResolveIdFuture<'_> {
        Box::pin(async move {
            Some(match self.chosen(project_id).await {
                Some(r) if r.uuid != BUILTIN_UUID => r.uuid,
                _ => self.builtin.id().to_string(),
            })
        })
    }

    fn engine_by_id<'a>(&'a self, id: &'a str) -> ResolveFuture<'a> {
        Box::pin(async move {
            if id == self.builtin.id() || id == BUILTIN_UUID {
                return Some(self.builtin.clone());
            }
            let r = self
                .scanners
                .meta
                .scanners()
                .get_scanner(id)
                .await
                .ok()
                .flatten()?;
            Some(self.engine_of(r).await)
        })
    }
}

/// Makes scans follow scanner registrations (project choice, then the default).
pub fn install(scanners: &Arc<Scanners>, scanning: &crate::scanning::Scanning) {
    let builtin: Arc<dyn ScanEngine> = scanning.builtin.clone();
    scanning.set_resolver(Arc::new(RegistrationResolver::new(
        scanners.clone(),
        builtin,
    )));
}
