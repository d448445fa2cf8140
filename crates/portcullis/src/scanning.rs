//! Scanning in the server: the built-in engine, the scan, scan-all and re-judging
//! workers of the job runner, the watch on the vulnerability database file, and its
//! optional scheduled download.

use std::sync::Arc;
use std::time::Duration;

use portcullis_blob::BlobStore;
use portcullis_core::Registry;
use portcullis_core::scanning::export::{CVE_EXPORT_JOB, CveExportWorker};
use portcullis_core::scanning::job::ScanWorker;
use portcullis_core::scanning::rejudge::RejudgeWorker;
use portcullis_core::scanning::scan_all::ScanAllWorker;
use portcullis_core::scanning::{
    BuiltinEngine, REJUDGE_JOB, SCAN_ALL_JOB, SCAN_JOB, ScanSettings, ScanSetup, Scanning,
    VulnDbHolder,
};
use portcullis_jobs::{
    CancellationToken, JobContext, JobError, Outcome, Runner, RunnerHandle, Worker,
};
use portcullis_meta::MetaStore;

use crate::config::Config;

/// Job kind and schedule name of the scheduled database download.
const VULNDB_UPDATE: &str = "vulndb-update";
/// How often the database file is checked for a newer copy.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// The built-in engine and scan settings the registry builds its scanning from.
pub fn setup(meta: &MetaStore, blobs: &BlobStore, cfg: &Config) -> ScanSetup {
    ScanSetup {
        engine: BuiltinEngine {
            blobs: blobs.clone(),
            meta: meta.clone(),
            vulndb: Arc::new(VulnDbHolder::new(&cfg.settings.data_dir)),
            layer_cache: cfg.settings.scan_layer_cache,
            limits: portcullis_scan::Limits::default(),
            budget: portcullis_scan::MemoryBudget::mib(cfg.settings.scan_memory_budget_mb),
        },
        settings: ScanSettings {
            layer_cache: cfg.settings.scan_layer_cache,
        },
    }
}

/// Downloads the vulnerability database; the file watch then swaps it in.
struct UpdateVulnDb {
    dir: std::path::PathBuf,
    url: String,
}

impl Worker for UpdateVulnDb {
    async fn run(&self, _job: &JobContext) -> Result<Outcome, JobError> {
        let ecosystems: Vec<String> = portcullis_vulndb::DEFAULT_ECOSYSTEMS
            .iter()
            .map(|e| e.to_string())
            .collect();
        let summary = portcullis_vulndb::update(&self.dir, &self.url, &ecosystems)
            .await
            .map_err(JobError::retry)?;
        tracing::info!(?summary, "vulnerability database updated");
        Ok(Outcome::Done)
    }
}

/// Registers the scanning workers on the runner being set up.
pub fn register(runner: Runner, reg: &Arc<Registry>, scanning: &Scanning, cfg: &Config) -> Runner {
    let runner = runner
        .register(
            SCAN_JOB,
            ScanWorker {
                scanning: reg.scanning.clone(),
                sboms: reg.clone(),
            },
        )
        .register(
            SCAN_ALL_JOB,
            ScanAllWorker {
                scanning: reg.scanning.clone(),
            },
        )
        .register(
            REJUDGE_JOB,
            RejudgeWorker {
                scanning: reg.scanning.clone(),
            },
        )
        .register(
            CVE_EXPORT_JOB,
            CveExportWorker {
                scanning: reg.scanning.clone(),
            },
        );
    match &cfg.settings.vulndb_update_url {
        Some(url) => runner.register(
            VULNDB_UPDATE,
            UpdateVulnDb {
                dir: scanning.vulndb.dir().to_path_buf(),
                url: url.clone(),
            },
        ),
        None => runner,
    }
}

/// After the runner started: stop requests go straight to it, the database file is
/// watched, and the scheduled download is (re)written. Cancel the token to stop the watch.
pub async fn start(
    scanning: &Arc<Scanning>,
    runner: &RunnerHandle,
    cfg: &Config,
) -> anyhow::Result<CancellationToken> {
    scanning.attach_runner(runner.clone());
    // Written only when a source is configured; one left from an earlier setting is
    // switched off.
    let configured = cfg.settings.vulndb_update_url.is_some();
    if configured
        || runner
            .store()
            .schedules()
            .get_schedule(VULNDB_UPDATE)
            .await?
            .is_some()
    {
        runner
            .set_schedule(
                VULNDB_UPDATE,
                VULNDB_UPDATE,
                serde_json::json!({}),
                &cfg.settings.vulndb_update_cron,
                configured,
            )
            .await?;
    }
    let stop = CancellationToken::new();
    tokio::spawn(scanning.clone().watch_vulndb(WATCH_EVERY, stop.clone()));
    Ok(stop)
}
