//! The pull gate's policies below HTTP: immutable tag rules, storage quotas and CVE
//! allowlists. Their per-project state is cached here for the push and pull paths. The
//! decisions themselves are pure functions in `portcullis-policy` (shared with the
//! `portcullis gate` CLI); `immutable` and `vulnerability` are its modules, re-exported.

pub mod allowlist;
pub mod quota;
mod rules;
pub mod vuln_gate;

pub use portcullis_policy::{immutable, vulnerability};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use immutable::CompiledRule;

/// A project's enabled rules, compiled, and when they were read.
type CachedRules = (Arc<Vec<CompiledRule>>, Instant);

/// Per-project policy state kept in memory, dropped on every local change and after a
/// short expiry so that changes made through another node show up promptly.
pub struct PolicyState {
    ttl: Duration,
    rules: RwLock<HashMap<i64, CachedRules>>,
}

impl PolicyState {
    pub fn new(ttl: Duration) -> Self {
        PolicyState {
            ttl,
            rules: RwLock::new(HashMap::new()),
        }
    }

    fn cached_rules(&self, project: i64) -> Option<Arc<Vec<CompiledRule>>> {
        let g = self.rules.read();
        let (rules, at) = g.get(&project)?;
        (at.elapsed() < self.ttl).then(|| rules.clone())
    }

    fn put_rules(&self, project: i64, rules: Arc<Vec<CompiledRule>>) {
        let mut g = self.rules.write();
        if g.len() > 10_000 {
            g.clear();
        }
        g.insert(project, (rules, Instant::now()));
    }

    fn forget_rules(&self, project: i64) {
        self.rules.write().remove(&project);
    }
}
