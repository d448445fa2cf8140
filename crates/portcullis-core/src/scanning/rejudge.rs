//! Re-judging after a vulnerability database change: every successful report of the
//! built-in engine is matched again from the cached inventories of its layers, reading
//! no layer. Reports whose inventories are not cached are queued for a full scan.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_jobs::{CancellationToken, JobContext, JobError, Outcome, Worker};
use portcullis_meta::{FinishedScan, NewJob, ScanReport};
use portcullis_scan::{INVENTORY_VERSION, LayerInventory, Limits};
use portcullis_vulndb::VulnDb;
use serde::{Deserialize, Serialize};

use super::builtin::{BUILTIN_SCANNER, rejudge_image, report_of, typed_report_of};
use super::codec::{pack, unpack};
use super::summary::{merge_reports, severity_word, summarize, summarize_findings};
use super::{REJUDGE_JOB, Scanning};

/// Reports judged per transaction.
const PAGE: u32 = 500;
/// Inventories kept in memory between pages (base layers are shared by many images).
const MAX_CACHED_INVENTORIES: usize = 20_000;

/// What a report keeps for its rescan: where it lives and its images' layers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RescanInput {
    pub repository: String,
    pub media_type: String,
    /// Layer digests per image, bottom first.
    pub images: Vec<Vec<String>>,
}

/// What a re-judging pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejudgeStats {
    pub rejudged: u64,
    /// Queued for a full scan (inventories missing, or unreadable).
    pub rescans: u64,
}

/// Runs `rejudge` jobs.
pub struct RejudgeWorker {
    pub scanning: Arc<Scanning>,
}

impl Worker for RejudgeWorker {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        let scanning = &self.scanning;
        let stats = scanning
            .rejudge_all(Some(job))
            .await
            .map_err(JobError::retry)?;
        self.scanning.epoch.changed();
        tracing::info!(
            rejudged = stats.rejudged,
            rescans = stats.rescans,
            "reports re-judged"
        );
        Ok(Outcome::Done)
    }
}

enum Judged {
    Done(i64, FinishedScan),
    /// The artifact digest and what its full scan needs.
    Rescan(String, RescanInput),
}

fn judge(
    r: &ScanReport,
    inventories: &HashMap<String, Arc<LayerInventory>>,
    db: &VulnDb,
    limits: &Limits,
) -> Judged {
    let input: RescanInput = serde_json::from_str(&r.layers).unwrap_or_default();
    let mut results = Vec::with_capacity(input.images.len());
    for image in &input.images {
        let layers: Option<Vec<&LayerInventory>> = image
            .iter()
            .map(|d| inventories.get(d).map(|i| &**i))
            .collect();
        let Some(layers) = layers.filter(|l| !l.is_empty()) else {
            return Judged::Rescan(r.key.digest.clone(), input);
        };
        match rejudge_image(&layers, db, limits) {
            Ok(result) => results.push(result),
            Err(_) => return Judged::Rescan(r.key.digest.clone(), input),
        }
    }
    let (summary, packed) = match results.as_slice() {
        [] => return Judged::Rescan(r.key.digest.clone(), input),
        // One image (most reports): counted and stored straight from the typed report.
        [one] => {
            let report = typed_report_of(one, &input.repository, &r.key.digest, &input.media_type);
            let summary = summarize_findings(
                report
                    .vulnerabilities
                    .iter()
                    .map(|v| (v.severity, !v.fix_version.is_empty())),
            );
            (summary, pack(&report))
        }
        several => {
            let reports: Vec<_> = several
                .iter()
                .map(|res| report_of(res, &input.repository, &r.key.digest, &input.media_type))
                .collect();
            let report = merge_reports(&reports);
            (summarize(&report), pack(&*report))
        }
    };
    Judged::Done(
        r.id,
        FinishedScan {
            severity: Some(severity_word(&summary)),
            total: summary.total,
            fixable: summary.fixable,
            summary: serde_json::to_string(&summary.by_severity).unwrap_or_default(),
            report: Some(packed),
            db_generation: i64::try_from(db.metadata().generation).ok(),
            ..FinishedScan::default()
        },
    )
}

impl Scanning {
    /// Matches every report judged against an older database again. Resumable: each
    /// page is committed with the new generation, so a run taken up again after a crash
    /// continues where the last one stopped.
    pub async fn rejudge_all(&self, job: Option<&JobContext>) -> Result<RejudgeStats, String> {
        let Some(db) = self.vulndb.current() else {
            return Ok(RejudgeStats::default());
        };
        let generation = i64::try_from(db.metadata().generation).unwrap_or(i64::MAX);
        let limits = self.builtin.limits.clone();
        let never = CancellationToken::new();
        let cancel = job.map_or(&never, |j| j.cancellation());
        let mut inventories: HashMap<String, Arc<LayerInventory>> = HashMap::new();
        let mut stats = RejudgeStats::default();
        let mut after = 0;
        let mut writing: Option<tokio::task::JoinHandle<Result<(), String>>> = None;
        loop {
            if cancel.is_cancelled() {
                return Err("re-judging interrupted".into());
            }
            let page = self
                .meta
                .scans()
                .reports_to_rejudge(BUILTIN_SCANNER, generation, after, PAGE)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            if inventories.len() > MAX_CACHED_INVENTORIES {
                inventories.clear();
            }
            let mut wanted: Vec<String> = page
                .iter()
                .flat_map(|r| {
                    serde_json::from_str::<RescanInput>(&r.layers)
                        .unwrap_or_default()
                        .images
                        .into_iter()
                        .flatten()
                })
                .filter(|d| !inventories.contains_key(d))
                .collect();
            wanted.sort();
            wanted.dedup();
            let packed = self
                .meta
                .scans()
                .layer_inventories(&wanted, i64::from(INVENTORY_VERSION))
                .await
                .map_err(|e| e.to_string())?;
            let (db2, limits2) = (db.clone(), limits.clone());
            let known = std::mem::take(&mut inventories);
            let (judged, known) = tokio::task::spawn_blocking(move || {
                let mut known = known;
                for (digest, bytes) in packed {
                    if let Ok(inv) = unpack::<LayerInventory>(&bytes) {
                        known.insert(digest, Arc::new(inv));
                    }
                }
                let out = Mutex::new(Vec::with_capacity(page.len()));
                let next = std::sync::atomic::AtomicUsize::new(0);
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        s.spawn(|| {
                            while let Some(r) =
                                page.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                            {
                                let j = judge(r, &known, &db2, &limits2);
                                out.lock().unwrap_or_else(|e| e.into_inner()).push(j);
                            }
                        });
                    }
                });
                (out.into_inner().unwrap_or_else(|e| e.into_inner()), known)
            })
            .await
            .map_err(|e| e.to_string())?;
            inventories = known;
            let mut done = Vec::new();
            for j in judged {
                match j {
                    Judged::Done(id, f) => done.push((id, f)),
                    Judged::Rescan(digest, input) => {
                        stats.rescans += 1;
                        self.queue_scan(
                            BUILTIN_SCANNER,
                            &digest,
                            &input.media_type,
                            &input.repository,
                            false,
                            None,
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                    }
                }
            }
            stats.rejudged += done.len() as u64;
            // The page is written while the next one is judged; one write in flight at
            // a time keeps the commits in id order for a resumed run.
            if let Some(previous) = writing.take() {
                previous.await.map_err(|e| e.to_string())??;
            }
            let meta = self.meta.clone();
            writing = Some(tokio::spawn(async move {
                meta.scans()
                    .store_rejudged(&done)
                    .await
                    .map_err(|e| e.to_string())
            }));
            if let Some(j) = job {
                let _ = j
                    .progress(0, &format!("{} reports re-judged", stats.rejudged))
                    .await;
            }
        }
        if let Some(last) = writing.take() {
            last.await.map_err(|e| e.to_string())??;
        }
        Ok(stats)
    }

    /// Watches the database file until `stop`: opens it when it appears, swaps in a newer
    /// one, and queues a re-judging of every report each time it changes. Node-local:
    /// each node reads its own copy of the database.
    pub async fn watch_vulndb(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        loop {
            let holder = self.vulndb.clone();
            match tokio::task::spawn_blocking(move || holder.refresh()).await {
                Ok(Ok(Some(generation))) => {
                    let job =
                        NewJob::new(REJUDGE_JOB, serde_json::json!({ "generation": generation }))
                            .dedup_key(format!("generation {generation}"));
                    if let Err(e) = self.enqueue(&job).await {
                        tracing::warn!(error = %e, "could not queue re-judging");
                    }
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "vulnerability database unreadable"),
                Err(e) => tracing::warn!(error = %e, "vulnerability database check failed"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}
