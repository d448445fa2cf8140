//! The policy service: everything the pull gate and the push path judge by — immutable
//! tag rules, storage quotas, CVE allowlists, the vulnerability verdict, signatures and
//! the keys that verify them — and the gate itself. Its per-project state is cached here
//! for the push and pull paths. The decisions themselves are pure functions in
//! `portcullis-policy` (shared with the `portcullis gate` CLI); `immutable` and
//! `vulnerability` are its modules, re-exported.

pub mod allowlist;
mod gate;
pub mod quota;
pub(crate) mod rules;
pub mod signatures;
pub mod trusted_keys;
pub mod vuln_gate;

pub use portcullis_policy::{immutable, vulnerability};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use portcullis_blob::BlobStore;
use portcullis_meta::MetaStore;

use crate::access::Access;
use crate::audit::AuditRecorder;
use crate::cache::GateEpoch;
use crate::events::EventBus;
use crate::scanning::Scanning;
use immutable::CompiledRule;
use signatures::{ConfiguredTrust, SignatureCache};
use vuln_gate::VulnVerdicts;

/// What the policy service is set up with.
#[derive(Debug, Clone)]
pub struct PolicySettings {
    /// How long cached policies and verdicts may be served (changes made on other nodes).
    pub cache_ttl: Duration,
    /// Usage, in percent of a project's storage limit, from which pushes raise QUOTA_WARNING.
    pub quota_warning_percent: u8,
    /// Signing keys and certificates projects trust, from the configuration.
    pub trusted: ConfiguredTrust,
}

/// The policy service (see the module docs).
pub struct Policy {
    pub(crate) meta: MetaStore,
    pub(crate) blobs: BlobStore,
    pub(crate) access: Arc<Access>,
    pub(crate) audit_log: Arc<AuditRecorder>,
    pub(crate) events: Arc<EventBus>,
    /// Scan reports the vulnerability verdict reads.
    pub(crate) scanning: Arc<Scanning>,
    /// Moved on by whatever changes a fact the gate judges by.
    pub(crate) epoch: Arc<GateEpoch>,
    pub(crate) signatures: SignatureCache,
    pub(crate) vuln_verdicts: VulnVerdicts,
    pub(crate) rules: PolicyState,
    quota_warning_percent: u8,
}

impl Policy {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        meta: MetaStore,
        blobs: BlobStore,
        access: Arc<Access>,
        audit_log: Arc<AuditRecorder>,
        events: Arc<EventBus>,
        scanning: Arc<Scanning>,
        epoch: Arc<GateEpoch>,
        settings: PolicySettings,
    ) -> Self {
        Policy {
            signatures: SignatureCache::new(settings.cache_ttl, &epoch, settings.trusted),
            vuln_verdicts: VulnVerdicts::new(settings.cache_ttl, &epoch),
            rules: PolicyState::new(settings.cache_ttl),
            quota_warning_percent: settings.quota_warning_percent,
            meta,
            blobs,
            access,
            audit_log,
            events,
            scanning,
            epoch,
        }
    }

    /// Drops every cached pull-gate decision (a report, allowlist, key, setting or
    /// manifest changed).
    pub fn gate_changed(&self) {
        self.epoch.changed();
    }
}

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
