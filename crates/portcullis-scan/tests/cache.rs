//! Layer inventories cached by digest: a rescan reads no layer and gives the same result.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::osv::fixture_db;
use common::*;
use portcullis_scan::image::open_path;
use portcullis_scan::{
    BlobSource, LayerCache, LayerInventory, ScanOptions, match_inventory, scan_image,
};
use portcullis_types::Digest;

/// Counts blob opens of the wrapped source.
struct Counting<'a> {
    inner: &'a dyn BlobSource,
    opens: AtomicUsize,
}

impl BlobSource for Counting<'_> {
    fn open(&self, d: &Digest) -> std::io::Result<Box<dyn Read + Send + '_>> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.inner.open(d)
    }
}

/// Stores inventories as JSON, as the registry would in its database.
#[derive(Default)]
struct JsonCache(Mutex<HashMap<Digest, String>>);

impl LayerCache for JsonCache {
    fn get(&self, layer: &Digest) -> Option<LayerInventory> {
        let m = self.0.lock().unwrap();
        serde_json::from_str(m.get(layer)?).ok()
    }
    fn put(&self, inv: &LayerInventory) {
        let d = inv.digest.clone().unwrap();
        self.0
            .lock()
            .unwrap()
            .insert(d, serde_json::to_string(inv).unwrap());
    }
}

#[test]
fn rescan_reads_no_layer() {
    let data = tempfile::tempdir().unwrap();
    let db = fixture_db(data.path());
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), &debian_app_layers());
    let cache = JsonCache::default();
    let opts = ScanOptions {
        cache: Some(&cache),
        ..ScanOptions::default()
    };
    let img = open_path(dir.path(), &opts.limits).unwrap();
    let src = Counting {
        inner: img.source.as_ref(),
        opens: AtomicUsize::new(0),
    };
    let first = scan_image(&src, &img.root, None, &opts, &db).unwrap();
    let after_first = src.opens.load(Ordering::SeqCst);
    assert_eq!(cache.0.lock().unwrap().len(), 2);
    let second = scan_image(&src, &img.root, None, &opts, &db).unwrap();
    // Only the manifest is read again, no layer.
    assert_eq!(src.opens.load(Ordering::SeqCst) - after_first, 1);
    assert_eq!(first, second);

    // The same through match_inventory on inventories taken from the cache.
    let manifest =
        &portcullis_scan::image::resolve_images(&src, &img.root, None, None, &opts.limits).unwrap()
            [0]
        .manifest;
    let layers: Vec<LayerInventory> = manifest
        .layers
        .iter()
        .map(|l| cache.get(&l.digest).unwrap())
        .collect();
    let again = match_inventory(&layers, &db, &opts.limits).unwrap();
    assert_eq!(again, first.images[0].result);
}
