//! In-process caches on the pull path. Manifest bytes are content-addressed and so never
//! stale; reference resolutions are dropped on any local write and expire after a short
//! time so that writes made by other nodes show up promptly.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::RwLock;
use portcullis_types::Digest;

/// Manifest bytes by digest, bounded by total size.
pub struct ManifestBytes {
    budget: usize,
    inner: RwLock<(HashMap<Digest, Bytes>, usize)>,
}

impl ManifestBytes {
    pub fn new(budget: usize) -> Self {
        ManifestBytes {
            budget,
            inner: RwLock::new((HashMap::new(), 0)),
        }
    }

    pub fn get(&self, d: &Digest) -> Option<Bytes> {
        self.inner.read().0.get(d).cloned()
    }

    pub fn put(&self, d: Digest, b: Bytes) {
        if b.len() > self.budget / 8 {
            return;
        }
        // A pushed manifest's bytes are a slice of the connection's read buffer: kept as
        // they are, each cached manifest of 500 bytes pinned a whole buffer of 8 KiB or
        // more, and RSS grew by about 15 KiB per push with the budget counting 500 bytes.
        let b = Bytes::copy_from_slice(&b);
        let mut g = self.inner.write();
        if g.1 + b.len() > self.budget {
            // Wholesale reset keeps this lock-cheap; the working set refills on demand.
            g.0.clear();
            g.1 = 0;
        }
        g.1 += b.len();
        g.0.insert(d, b);
    }
}

/// What a `(repository, reference)` resolves to.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub artifact_id: i64,
    pub repository_id: i64,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// A resolution, when it was cached, and the write generation it belongs to.
type CachedResolution = (Resolved, Instant, u64);

pub struct Resolutions {
    ttl: Duration,
    generation: AtomicU64,
    inner: RwLock<HashMap<(String, String), CachedResolution>>,
}

impl Resolutions {
    pub fn new(ttl: Duration) -> Self {
        Resolutions {
            ttl,
            generation: AtomicU64::new(0),
            inner: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, repo: &str, reference: &str) -> Option<Resolved> {
        let g = self.inner.read();
        // Borrowed lookup without allocating a key would need a custom Borrow impl; the
        // key is small and this path is already far cheaper than the database.
        let (r, at, generation) = g.get(&(repo.to_string(), reference.to_string()))?;
        (*generation == self.generation.load(Ordering::Acquire) && at.elapsed() < self.ttl)
            .then(|| r.clone())
    }

    pub fn put(&self, repo: &str, reference: &str, r: Resolved) {
        let generation = self.generation.load(Ordering::Acquire);
        let mut g = self.inner.write();
        if g.len() > 100_000 {
            g.clear();
        }
        g.insert(
            (repo.to_string(), reference.to_string()),
            (r, Instant::now(), generation),
        );
    }

    /// Called on every local write that can change what a reference means.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Projects by name for authorization, with a short expiry.
pub struct Projects<T: Clone> {
    ttl: Duration,
    inner: RwLock<HashMap<String, (Option<T>, Instant)>>,
}

impl<T: Clone> Projects<T> {
    pub fn new(ttl: Duration) -> Self {
        Projects {
            ttl,
            inner: RwLock::new(HashMap::new()),
        }
    }

    /// `Some(None)` is a cached absence.
    pub fn get(&self, name: &str) -> Option<Option<T>> {
        let g = self.inner.read();
        let (v, at) = g.get(name)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    pub fn put(&self, name: &str, v: Option<T>) {
        let mut g = self.inner.write();
        if g.len() > 10_000 {
            g.clear();
        }
        g.insert(name.to_string(), (v, Instant::now()));
    }

    pub fn forget(&self, name: &str) {
        self.inner.write().remove(name);
    }
}

/// The generation shared by every pull-gate cache. Whatever changes a fact the gate
/// judges by (a report, an allowlist, a key, a project setting, a manifest) calls
/// [`GateEpoch::changed`], and every cached decision is dropped at once; the caches and
/// those who change their facts only share this counter, not each other.
#[derive(Debug, Default)]
pub struct GateEpoch(AtomicU64);

impl GateEpoch {
    pub fn new() -> Arc<Self> {
        Arc::new(GateEpoch::default())
    }

    /// Drops every cached pull-gate decision.
    pub fn changed(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// A map of pull-gate facts (verdicts, project policies): entries expire after `ttl`
/// (for changes made on other nodes) and are all dropped at once when the shared
/// [`GateEpoch`] moves on (for changes made here). A value computed while the epoch
/// moved is stored under the old one, so it is never served.
pub struct GateMap<K, V> {
    ttl: Duration,
    epoch: Arc<GateEpoch>,
    map: RwLock<HashMap<K, (V, Instant, u64)>>,
}

impl<K: std::hash::Hash + Eq, V: Clone> GateMap<K, V> {
    pub fn new(ttl: Duration, epoch: &Arc<GateEpoch>) -> Self {
        GateMap {
            ttl,
            epoch: epoch.clone(),
            map: RwLock::new(HashMap::new()),
        }
    }

    /// The generation to pass to `put` for a value about to be computed.
    pub fn generation(&self) -> u64 {
        self.epoch.current()
    }

    pub fn get(&self, k: &K) -> Option<V> {
        let g = self.generation();
        self.map
            .read()
            .get(k)
            .filter(|(_, at, gen_)| *gen_ == g && at.elapsed() < self.ttl)
            .map(|(v, _, _)| v.clone())
    }

    pub fn put(&self, k: K, v: V, generation: u64) {
        let mut m = self.map.write();
        if m.len() > 50_000 {
            m.clear();
        }
        m.insert(k, (v, Instant::now(), generation));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_invalidate() {
        let r = Resolutions::new(Duration::from_secs(60));
        let d = Digest::sha256_of(b"x");
        r.put(
            "p/r",
            "latest",
            Resolved {
                artifact_id: 1,
                repository_id: 1,
                digest: d,
                media_type: "m".into(),
                size: 1,
            },
        );
        assert!(r.get("p/r", "latest").is_some());
        r.invalidate();
        assert!(r.get("p/r", "latest").is_none());
    }

    #[test]
    fn cached_manifests_do_not_pin_the_buffer_they_were_cut_from() {
        let m = ManifestBytes::new(1 << 20);
        let buffer = Bytes::from(vec![7u8; 64 << 10]);
        let d = Digest::sha256_of(b"m");
        m.put(d.clone(), buffer.slice(0..500));
        let cached = m.get(&d).unwrap();
        assert_eq!(cached.len(), 500);
        // Not a view into `buffer`: its memory is its own.
        let within = buffer.as_ptr_range();
        assert!(!within.contains(&cached.as_ptr()));
    }

    #[test]
    fn manifest_budget() {
        let m = ManifestBytes::new(80);
        let a = Digest::sha256_of(b"a");
        m.put(a.clone(), Bytes::from_static(b"0123456789"));
        assert!(m.get(&a).is_some());
        m.put(Digest::sha256_of(b"big"), Bytes::from(vec![0u8; 50]));
        assert!(m.get(&Digest::sha256_of(b"big")).is_none());
    }
}
