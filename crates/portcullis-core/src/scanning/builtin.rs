//! The built-in engine: `portcullis-scan` reading layers straight from the blob store,
//! with each layer's package inventory cached in the metadata store by layer digest.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use portcullis_blob::BlobStore;
use portcullis_jobs::CancellationToken;
use portcullis_meta::MetaStore;
use portcullis_scan::report::{HarborArtifact, HarborReport, harbor_report};
use portcullis_scan::sbom::{SbomSubject, spdx};
use portcullis_scan::{
    BlobSource, INVENTORY_VERSION, LayerCache, LayerInventory, LimitError, Limits, MemoryBudget,
    ScanOptions, ScanResult, ScanStatus, match_inventory,
};
use portcullis_types::{Digest, ParsedManifest};
use portcullis_vulndb::VulnDb;
use tokio::runtime::Handle;

use super::codec::{pack, unpack};
use super::engine::{EngineError, EngineReport, ScanEngine, ScanFuture, ScanTarget, ScannerInfo};
use super::vulndb::VulnDbHolder;

/// The id of the built-in engine in report rows.
pub const BUILTIN_SCANNER: &str = "portcullis";

/// Blobs read from the blob store on a blocking thread.
struct StoreSource {
    blobs: BlobStore,
    rt: Handle,
}

struct StreamRead {
    stream: BoxStream<'static, io::Result<Bytes>>,
    buf: Bytes,
    rt: Handle,
}

impl Read for StreamRead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            match self.rt.block_on(self.stream.next()) {
                Some(chunk) => self.buf = chunk?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

impl BlobSource for StoreSource {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + Send + '_>> {
        let reader = self
            .rt
            .block_on(self.blobs.get(digest, None))
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Box::new(StreamRead {
            stream: reader.stream,
            buf: Bytes::new(),
            rt: self.rt.clone(),
        }))
    }
}

/// Layer inventories in the metadata store, gzip-compressed JSON.
pub struct MetaLayerCache {
    meta: MetaStore,
    rt: Handle,
    hits: AtomicUsize,
}

impl MetaLayerCache {
    pub fn new(meta: MetaStore, rt: Handle) -> Self {
        MetaLayerCache {
            meta,
            rt,
            hits: AtomicUsize::new(0),
        }
    }
}

impl LayerCache for MetaLayerCache {
    fn get(&self, layer: &Digest) -> Option<LayerInventory> {
        let found = self
            .rt
            .block_on(
                self.meta
                    .scans()
                    .layer_inventories(&[layer.to_string()], i64::from(INVENTORY_VERSION)),
            )
            .map_err(|e| tracing::warn!(layer = %layer, error = %e, "layer cache read failed"))
            .ok()?;
        let (_, bytes) = found.into_iter().next()?;
        let inv = unpack(&bytes)
            .map_err(|e| tracing::warn!(layer = %layer, error = %e, "layer cache entry unreadable"))
            .ok()?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(inv)
    }

    fn put(&self, inventory: &LayerInventory) {
        let Some(digest) = &inventory.digest else {
            return;
        };
        let bytes = pack(inventory);
        if let Err(e) = self.rt.block_on(self.meta.scans().put_layer_inventory(
            digest.as_str(),
            i64::from(INVENTORY_VERSION),
            &bytes,
        )) {
            tracing::warn!(layer = %digest, error = %e, "layer cache write failed");
        }
    }
}

/// The built-in scanner.
pub struct BuiltinEngine {
    pub blobs: BlobStore,
    pub meta: MetaStore,
    pub vulndb: Arc<VulnDbHolder>,
    /// Cache layer inventories (and so allow rescans without reading layers).
    pub layer_cache: bool,
    pub limits: Limits,
    /// Memory all scans of the process share (the scanner adapter's too).
    pub budget: MemoryBudget,
}

/// Harbor's report for one image scanned (or rejudged) by the built-in engine.
pub fn report_of(
    result: &ScanResult,
    repository: &str,
    digest: &str,
    mime: &str,
) -> serde_json::Value {
    serde_json::to_value(typed_report_of(result, repository, digest, mime)).unwrap_or_default()
}

/// [`report_of`] before it becomes JSON: what the re-judging of one image stores.
pub fn typed_report_of(
    result: &ScanResult,
    repository: &str,
    digest: &str,
    mime: &str,
) -> HarborReport {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let artifact = HarborArtifact {
        repository: Some(repository.to_string()),
        digest: Some(digest.to_string()),
        tag: None,
        mime_type: Some(mime.to_string()),
    };
    harbor_report(result, artifact, now)
}

/// Matches cached inventories of one image (bottom layer first) against `db`: the
/// rescan path, which reads no layer.
pub fn rejudge_image<L: std::borrow::Borrow<LayerInventory>>(
    layers: &[L],
    db: &VulnDb,
    limits: &Limits,
) -> Result<ScanResult, String> {
    let result = match_inventory(layers, db, limits).map_err(|e| e.to_string())?;
    if let ScanStatus::Unsupported { reason } = &result.status {
        return Err(format!("unsupported image: {reason}"));
    }
    Ok(result)
}

impl BuiltinEngine {
    pub fn scanner_info() -> ScannerInfo {
        ScannerInfo {
            name: "Portcullis".into(),
            vendor: "Portcullis".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    async fn run(
        &self,
        target: &ScanTarget,
        cancel: &CancellationToken,
    ) -> Result<EngineReport, EngineError> {
        let mut log = format!("scanning {} in {}\n", target.digest, target.repository);
        let Some(db) = self.vulndb.current() else {
            log.push_str("no vulnerability database: import one with `portcullis vulndb import`\n");
            return Err(EngineError::retryable("no vulnerability database", log));
        };
        let generation = db.metadata().generation;
        log.push_str(&format!("vulnerability database generation {generation}\n"));
        let manifest = self.blobs.get_bytes(&target.digest).await.map_err(|e| {
            EngineError::retryable(format!("reading the manifest: {e}"), log.clone())
        })?;
        let parsed = ParsedManifest::parse(&manifest, Some(&target.media_type)).map_err(|e| {
            EngineError::permanent(format!("unreadable manifest: {e}"), log.clone())
        })?;
        let layer_digests: Vec<Digest> = parsed.layers.iter().map(|l| l.digest.clone()).collect();
        let (blobs, meta, limits, use_cache, budget) = (
            self.blobs.clone(),
            self.meta.clone(),
            self.limits.clone(),
            self.layer_cache,
            self.budget.clone(),
        );
        let rt = Handle::current();
        let db_for_task = db.clone();
        let task = tokio::task::spawn_blocking(move || {
            let source = StoreSource {
                blobs,
                rt: rt.clone(),
            };
            let cache = MetaLayerCache::new(meta, rt);
            let opts = ScanOptions {
                limits: limits.clone(),
                threads: 2,
                cache: use_cache.then_some(&cache as &dyn LayerCache),
                memory: budget.account(),
                ..ScanOptions::default()
            };
            let layers = portcullis_scan::scan::layer_inventories(&source, &parsed, &opts)?;
            let result = match_inventory(&layers, &*db_for_task, &limits)?;
            Ok::<_, portcullis_scan::ScanError>((result, cache.hits.load(Ordering::Relaxed)))
        });
        let (result, cached) = tokio::select! {
            () = cancel.cancelled() => {
                log.push_str("stopped\n");
                return Err(EngineError::permanent("scan stopped", log));
            }
            r = task => r
                .map_err(|e| EngineError::retryable(format!("scan task failed: {e}"), log.clone()))?
                .map_err(|e| {
                    log.push_str(&format!("{e}\n"));
                    // Scans holding the budget between them is no fault of this image:
                    // the job is tried again later.
                    if matches!(e.limit(), Some(LimitError::BudgetBusy { .. })) {
                        EngineError::retryable(e.to_string(), log.clone())
                    } else {
                        EngineError::permanent(e.to_string(), log.clone())
                    }
                })?,
        };
        log.push_str(&format!(
            "layers: {} ({} from the inventory cache)\npackages: {}\n",
            layer_digests.len(),
            cached,
            result.inventory.packages.len()
        ));
        if let ScanStatus::Unsupported { reason } = &result.status {
            log.push_str(&format!("unsupported image: {reason}\n"));
            return Err(EngineError::permanent(
                format!("unsupported image: {reason}"),
                log,
            ));
        }
        log.push_str(&format!(
            "vulnerabilities: {}\n",
            result.vulnerabilities.len()
        ));
        let report = report_of(
            &result,
            &target.repository,
            target.digest.as_str(),
            &target.media_type,
        );
        let sbom = target.want_sbom.then(|| {
            let subject = SbomSubject {
                name: format!("{}@{}", target.repository, target.digest),
                digest: Some(target.digest.to_string()),
                created: time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            };
            spdx(&subject, &result.inventory)
        });
        Ok(EngineReport {
            report,
            sbom,
            log,
            layers: if self.layer_cache {
                layer_digests
            } else {
                Vec::new()
            },
            db_generation: Some(generation),
        })
    }
}

impl ScanEngine for BuiltinEngine {
    fn id(&self) -> &str {
        BUILTIN_SCANNER
    }

    fn info(&self) -> ScannerInfo {
        Self::scanner_info()
    }

    fn scan<'a>(&'a self, target: &'a ScanTarget, cancel: &'a CancellationToken) -> ScanFuture<'a> {
        Box::pin(self.run(target, cancel))
    }
}
