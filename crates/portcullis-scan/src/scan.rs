//! Scanning whole images: resolve the manifest (or index), read each layer once (in
//! parallel, or from a cache of layer inventories), merge, match.

use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis_types::{Descriptor, Digest, ParsedManifest, Platform};
use serde::{Deserialize, Serialize};

use crate::budget::{MemoryBudget, ScanMemory, inventory_cost};
use crate::error::ScanError;
use crate::image::{BlobSource, PlatformFilter, ResolvedImage, resolve_images};
use crate::inventory::LayerInventory;
use crate::layer::inventory_of_layer_within;
use crate::limits::Limits;
use crate::matching::{Advisories, ScanResult, match_packages};
use crate::merge::ImageInventory;

/// A store of layer inventories keyed by layer digest, so that rescans re-read no layer.
/// Implementations must be safe to call from several threads; failures to store are
/// the implementation's to log, since a cache miss only costs time.
pub trait LayerCache: Sync {
    /// The stored inventory of `layer`, if any.
    fn get(&self, layer: &Digest) -> Option<LayerInventory>;
    /// Stores an inventory under its `digest`.
    fn put(&self, inventory: &LayerInventory);
}

/// What a scan reports while it runs.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The scan will read layers of these compressed sizes (cached layers excluded).
    Planned { layers: usize, bytes: u64 },
    /// Compressed bytes read since the last report.
    Read(u64),
    /// A layer is done.
    LayerDone { digest: Digest },
}

/// How to scan.
pub struct ScanOptions<'a> {
    /// Bounds on every read.
    pub limits: Limits,
    /// Scan only this platform of an index (all platforms when `None`).
    pub platform: Option<PlatformFilter>,
    /// Layers read at the same time.
    pub threads: usize,
    /// Where layer inventories are looked up and stored.
    pub cache: Option<&'a dyn LayerCache>,
    /// Called as layers are read (from several threads).
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// This scan's share of the process's memory budget. Everything the scan reads into
    /// memory or keeps is counted here until the options are dropped, so keep them as
    /// long as the inventories and results they produced.
    pub memory: ScanMemory,
}

impl Default for ScanOptions<'_> {
    fn default() -> Self {
        ScanOptions {
            limits: Limits::default(),
            platform: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cache: None,
            progress: None,
            memory: MemoryBudget::unlimited().account(),
        }
    }
}

/// The result for one image manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageScan {
    /// Digest of the image manifest, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Platform the index declared for this image.
    pub platform: Option<Platform>,
    /// Packages, vulnerabilities and status.
    #[serde(flatten)]
    pub result: ScanResult,
}

/// The result of scanning a manifest: one entry per image (several for an index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanOutcome {
    /// One entry per image manifest scanned.
    pub images: Vec<ImageScan>,
}

struct Progressing<'a, R> {
    inner: R,
    progress: Option<&'a (dyn Fn(Progress) + Sync)>,
}

impl<R: Read> Read for Progressing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = self.progress {
            p(Progress::Read(n as u64));
        }
        Ok(n)
    }
}

/// Reads one layer blob from `source` into an inventory (or takes it from the cache).
pub fn layer_inventory(
    source: &dyn BlobSource,
    layer: &Descriptor,
    opts: &ScanOptions<'_>,
) -> Result<LayerInventory, ScanError> {
    match opts.cache.and_then(|c| c.get(&layer.digest)) {
        Some(inv) => {
            charge_cached(&inv, &opts.memory)?;
            Ok(inv)
        }
        None => read_layer(source, layer, opts),
    }
}

/// A cached inventory is already in memory when it is counted; what it holds is charged
/// so that the rest of the scan stays within the budget.
fn charge_cached(inv: &LayerInventory, memory: &ScanMemory) -> Result<(), ScanError> {
    let digest = inv.digest.as_ref().map_or("", |d| d.as_str());
    memory
        .charge(inventory_cost(inv))
        .map_err(|e| ScanError::from(e).in_layer(digest))
}

/// Reads one layer blob and stores its inventory in the cache.
fn read_layer(
    source: &dyn BlobSource,
    layer: &Descriptor,
    opts: &ScanOptions<'_>,
) -> Result<LayerInventory, ScanError> {
    let reader = source
        .open(&layer.digest)
        .map_err(|e| ScanError::from(e).in_layer(layer.digest.as_str()))?;
    let reader = Progressing {
        inner: reader,
        progress: opts.progress,
    };
    let inv = inventory_of_layer_within(
        reader,
        Some(&layer.media_type),
        Some(layer.digest.clone()),
        &opts.limits,
        &opts.memory,
    )
    .map_err(|e| e.in_layer(layer.digest.as_str()))?;
    if let Some(c) = opts.cache {
        c.put(&inv);
    }
    Ok(inv)
}

/// Reads every layer of an image manifest, `opts.threads` at a time, in manifest order.
pub fn layer_inventories(
    source: &dyn BlobSource,
    manifest: &ParsedManifest,
    opts: &ScanOptions<'_>,
) -> Result<Vec<LayerInventory>, ScanError> {
    let layers = &manifest.layers;
    // Cached layers are taken first, so that progress counts only what will be read.
    let cached: Vec<Option<LayerInventory>> = layers
        .iter()
        .map(|l| opts.cache.and_then(|c| c.get(&l.digest)))
        .collect();
    for inv in cached.iter().flatten() {
        charge_cached(inv, &opts.memory)?;
    }
    if let Some(p) = opts.progress {
        let todo: Vec<_> = layers
            .iter()
            .zip(&cached)
            .filter(|(_, c)| c.is_none())
            .collect();
        p(Progress::Planned {
            layers: todo.len(),
            bytes: todo.iter().map(|(l, _)| l.size).sum(),
        });
    }
    let todo: Vec<usize> = (0..layers.len()).filter(|&i| cached[i].is_none()).collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<LayerInventory, ScanError>>>> =
        Mutex::new(cached.into_iter().map(|c| c.map(Ok)).collect());
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..opts.threads.clamp(1, todo.len().max(1)) {
            s.spawn(|| {
                let _worker = opts.memory.worker();
                while let Some(&i) = todo.get(next.fetch_add(1, Ordering::SeqCst)) {
                    if failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let r = read_layer(source, &layers[i], opts);
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    } else if let Some(p) = opts.progress {
                        p(Progress::LayerDone {
                            digest: layers[i].digest.clone(),
                        });
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::with_capacity(layers.len());
    for r in results {
        match r {
            Some(Ok(inv)) => out.push(inv),
            Some(Err(e)) => return Err(e),
            // Left unread because an earlier-started layer failed; its error comes first.
            None => {}
        }
    }
    if out.len() != layers.len() {
        return Err(ScanError::MalformedImage("not every layer was read".into()));
    }
    Ok(out)
}

/// Merges cached or fresh layer inventories (bottom layer first) and matches the result
/// against `db`. This is the rescan path: no layer is read.
pub fn match_inventory<L: std::borrow::Borrow<LayerInventory>>(
    layers: &[L],
    db: &dyn Advisories,
    limits: &Limits,
) -> Result<ScanResult, ScanError> {
    let inventory = ImageInventory::from_layers(layers, limits)?;
    match_packages(inventory, db)
}

/// Scans the image `manifest` (an image manifest, or an index whose images are scanned
/// one by one) whose blobs `source` serves.
///
/// Blocking and CPU-bound: call it from a blocking thread.
pub fn scan_image(
    source: &dyn BlobSource,
    manifest: &ParsedManifest,
    manifest_digest: Option<&Digest>,
    opts: &ScanOptions<'_>,
    db: &dyn Advisories,
) -> Result<ScanOutcome, ScanError> {
    let images = resolve_images(
        source,
        manifest,
        manifest_digest,
        opts.platform.as_ref(),
        &opts.limits,
    )?;
    let mut out = Vec::new();
    for ResolvedImage {
        digest,
        platform,
        manifest,
    } in images
    {
        let layers = layer_inventories(source, &manifest, opts)?;
        let result = match_inventory(&layers, db, &opts.limits)?;
        out.push(ImageScan {
            manifest_digest: digest,
            platform,
            result,
        });
    }
    Ok(ScanOutcome { images: out })
}
