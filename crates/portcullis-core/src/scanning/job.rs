//! The `scan` job: one artifact's report, from `Pending` to its outcome.

use std::sync::Arc;
use std::time::Instant;

use portcullis_jobs::{JobContext, JobError, Outcome, Worker};
use portcullis_meta::{FinishedScan, ReportKey, ReportStatus};
use portcullis_types::{Digest, ParsedManifest, media};
use serde::{Deserialize, Serialize};

use super::codec::pack;
use super::engine::{EngineError, EngineReport, ScanEngine, ScanTarget};
use super::outcome::scan_outcome_decided;
use super::sbom::SbomStore;
use super::summary::{ReportSummary, merge_reports, severity_word, summarize};
use super::{Scanning, VULN_MIME};

/// The input of a `scan` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanJob {
    pub digest: String,
    pub media_type: String,
    pub repository: String,
    pub scanner: String,
    /// Report id to use if the report row does not exist yet.
    pub uuid: String,
    /// Also generate an SBOM.
    #[serde(default)]
    pub sbom: bool,
}

/// Runs `scan` jobs.
pub struct ScanWorker {
    pub scanning: Arc<Scanning>,
    /// Where the SBOMs scans make are pushed.
    pub sboms: Arc<dyn SbomStore>,
}

impl Worker for ScanWorker {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        let p: ScanJob = job.payload_as()?;
        self.scanning.run_scan(&*self.sboms, &p, job).await
    }
}

/// What the engine gave for every image of the artifact.
struct Scanned {
    reports: Vec<serde_json::Value>,
    layers: Vec<Vec<String>>,
    sboms: Vec<serde_json::Value>,
    log: String,
    db_generation: Option<u64>,
}

/// Whether an image index child is a real image (not a build attestation).
fn is_image_child(d: &portcullis_types::Descriptor) -> bool {
    let attestation = d.platform.as_ref().is_some_and(|p| p.os == "unknown")
        || d.annotations.as_ref().is_some_and(|a| {
            a.get("vnd.docker.reference.type")
                .is_some_and(|t| t == "attestation-manifest")
        });
    !attestation && (d.media_type == media::OCI_MANIFEST || d.media_type == media::DOCKER_MANIFEST)
}

impl Scanning {
    /// Runs one scan job to its recorded outcome.
    pub async fn run_scan(
        &self,
        sboms: &dyn SbomStore,
        p: &ScanJob,
        job: &JobContext,
    ) -> Result<Outcome, JobError> {
        let key = ReportKey {
            digest: p.digest.clone(),
            scanner: p.scanner.clone(),
            mime_type: VULN_MIME.to_string(),
        };
        self.meta
            .scans()
            .start_scan(&key, &p.uuid, job.id().0)
            .await?;
        let started = Instant::now();
        let Some(engine) = self.resolver().engine_by_id(&p.scanner).await else {
            let e = EngineError::permanent(
                format!("scanner {} is no longer registered", p.scanner),
                "",
            );
            return self.fail(&key, p, e, job, started).await;
        };
        match self.scan_artifact(&*engine, p, job).await {
            Ok(scanned) => self.succeed(sboms, &key, p, scanned, started).await,
            Err(e) => self.fail(&key, p, e, job, started).await,
        }
    }

    async fn scan_artifact(
        &self,
        engine: &dyn ScanEngine,
        p: &ScanJob,
        job: &JobContext,
    ) -> Result<Scanned, EngineError> {
        let digest = Digest::parse(&p.digest)
            .map_err(|e| EngineError::permanent(format!("bad digest: {e}"), ""))?;
        let is_index = p.media_type == media::OCI_INDEX || p.media_type == media::DOCKER_LIST;
        if !is_index {
            let target = ScanTarget {
                digest,
                media_type: p.media_type.clone(),
                repository: p.repository.clone(),
                want_sbom: p.sbom,
            };
            let r = engine.scan(&target, job.cancellation()).await?;
            return Ok(one(r));
        }
        let bytes = self
            .blobs
            .get_bytes(&digest)
            .await
            .map_err(|e| EngineError::retryable(format!("reading the index: {e}"), ""))?;
        let index = ParsedManifest::parse(&bytes, Some(&p.media_type))
            .map_err(|e| EngineError::permanent(format!("unreadable index: {e}"), ""))?;
        let children: Vec<_> = index
            .manifests
            .iter()
            .filter(|d| is_image_child(d))
            .collect();
        if children.is_empty() {
            return Err(EngineError::permanent(
                "the index holds no image to scan",
                "",
            ));
        }
        let mut all = Scanned {
            reports: Vec::new(),
            layers: Vec::new(),
            sboms: Vec::new(),
            log: format!("index {} with {} images\n", p.digest, children.len()),
            db_generation: None,
        };
        for (i, child) in children.iter().enumerate() {
            let _ = job
                .progress(
                    u8::try_from(i * 100 / children.len()).unwrap_or(99),
                    &format!("image {} of {}", i + 1, children.len()),
                )
                .await;
            let child_key = ReportKey {
                digest: child.digest.to_string(),
                scanner: p.scanner.clone(),
                mime_type: VULN_MIME.to_string(),
            };
            let target = ScanTarget {
                digest: child.digest.clone(),
                media_type: child.media_type.clone(),
                repository: p.repository.clone(),
                want_sbom: p.sbom,
            };
            let child_uuid = uuid::Uuid::new_v4().to_string();
            let _ = self
                .meta
                .scans()
                .start_scan(&child_key, &child_uuid, job.id().0)
                .await;
            let started = Instant::now();
            match engine.scan(&target, job.cancellation()).await {
                Ok(r) => {
                    let platform = child
                        .platform
                        .as_ref()
                        .map(|p| format!("{}/{}", p.os, p.architecture))
                        .unwrap_or_default();
                    all.log
                        .push_str(&format!("--- {} {platform}\n{}", child.digest, r.log));
                    let child_job = ScanJob {
                        digest: child.digest.to_string(),
                        media_type: child.media_type.clone(),
                        ..p.clone()
                    };
                    let scanned = one(r);
                    let _ = self
                        .record_success(&child_key, &child_job, &scanned, started)
                        .await;
                    all.db_generation = scanned.db_generation;
                    all.reports.extend(scanned.reports);
                    all.layers.extend(scanned.layers);
                    all.sboms.extend(scanned.sboms);
                }
                Err(e) => {
                    let status = if job.is_cancelled() {
                        ReportStatus::Stopped
                    } else {
                        ReportStatus::Error
                    };
                    let done = FinishedScan {
                        log: e.log.clone(),
                        ..FinishedScan::default()
                    };
                    let _ = self
                        .meta
                        .scans()
                        .finish_scan(&child_key, status, &done)
                        .await;
                    return Err(EngineError {
                        log: format!("{}--- {}\n{}", all.log, child.digest, e.log),
                        ..e
                    });
                }
            }
        }
        Ok(all)
    }

    async fn record_success(
        &self,
        key: &ReportKey,
        p: &ScanJob,
        scanned: &Scanned,
        started: Instant,
    ) -> Result<ReportSummary, JobError> {
        let report = merge_reports(&scanned.reports);
        let summary = summarize(&report);
        let info = self
            .resolver()
            .engine_by_id(&p.scanner)
            .await
            .map(|e| e.info())
            .unwrap_or_else(super::BuiltinEngine::scanner_info);
        let done = FinishedScan {
            severity: Some(severity_word(&summary)),
            total: summary.total,
            fixable: summary.fixable,
            summary: serde_json::to_string(&summary.by_severity).unwrap_or_default(),
            scanner_name: info.name,
            scanner_vendor: info.vendor,
            scanner_version: info.version,
            report: Some(pack(&*report)),
            log: scanned.log.clone(),
            layers: serde_json::to_string(&super::rejudge::RescanInput {
                repository: p.repository.clone(),
                media_type: p.media_type.clone(),
                images: scanned.layers.clone(),
            })
            .unwrap_or_default(),
            db_generation: scanned.db_generation.and_then(|g| i64::try_from(g).ok()),
        };
        self.meta
            .scans()
            .finish_scan(key, ReportStatus::Success, &done)
            .await?;
        scan_outcome_decided(
            self,
            key,
            &p.repository,
            ReportStatus::Success,
            Some(&summary),
            started.elapsed().as_secs_f64(),
        )
        .await;
        Ok(summary)
    }

    async fn succeed(
        &self,
        sboms: &dyn SbomStore,
        key: &ReportKey,
        p: &ScanJob,
        scanned: Scanned,
        started: Instant,
    ) -> Result<Outcome, JobError> {
        if p.sbom && !scanned.sboms.is_empty() {
            sboms
                .store_sbom(key, p, &scanned.sboms)
                .await
                .map_err(JobError::retry)?;
        } else if p.sbom {
            self.sbom_unavailable(
                key,
                &format!("scanner {} produced no SBOM for this artifact", p.scanner),
            )
            .await
            .map_err(JobError::retry)?;
        }
        self.record_success(key, p, &scanned, started).await?;
        Ok(Outcome::Done)
    }

    async fn fail(
        &self,
        key: &ReportKey,
        p: &ScanJob,
        e: EngineError,
        job: &JobContext,
        started: Instant,
    ) -> Result<Outcome, JobError> {
        let stop_requested = job.is_cancelled()
            && self
                .meta
                .jobs()
                .get_job(job.id())
                .await
                .ok()
                .flatten()
                .is_some_and(|j| j.stop_requested);
        if job.is_cancelled() && !stop_requested {
            // The node is shutting down: the job is handed back and runs again.
            return Err(JobError::retry("interrupted by shutdown"));
        }
        let retry = e.retryable && !job.is_last_attempt() && !stop_requested;
        let status = if stop_requested {
            ReportStatus::Stopped
        } else if retry {
            ReportStatus::Running
        } else {
            ReportStatus::Error
        };
        let mut log = e.log.clone();
        log.push_str(&format!("error: {}\n", e.message));
        if retry {
            log.push_str(&format!("attempt {} failed; retrying\n", job.attempt()));
            let done = FinishedScan {
                log,
                ..FinishedScan::default()
            };
            self.meta
                .scans()
                .finish_scan(key, ReportStatus::Running, &done)
                .await?;
            return Err(JobError::retry(e.message));
        }
        let done = FinishedScan {
            log,
            ..FinishedScan::default()
        };
        self.meta.scans().finish_scan(key, status, &done).await?;
        scan_outcome_decided(
            self,
            key,
            &p.repository,
            status,
            None,
            started.elapsed().as_secs_f64(),
        )
        .await;
        Err(JobError::permanent(e.message))
    }
}

fn one(r: EngineReport) -> Scanned {
    Scanned {
        reports: vec![r.report],
        layers: vec![r.layers.iter().map(|d| d.to_string()).collect()],
        sboms: r.sbom.into_iter().collect(),
        log: r.log,
        db_generation: r.db_generation,
    }
}
