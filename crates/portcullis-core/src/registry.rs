//! The registry's composition root: the stores, caches and services built once at start,
//! in dependency order. What `/v2/` does lives in `uploads` and `manifests`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use portcullis_blob::BlobStore;
use portcullis_meta::{Artifact, MetaStore};
use portcullis_types::{Digest, Reference, RepoName};

use crate::auth::TokenService;
use crate::cache::{ManifestBytes, Resolutions};
use crate::pulls::PullRecorder;

/// Settings of the registry service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest manifest accepted, in bytes.
    pub max_manifest_size: usize,
    /// Base URL clients reach the registry at (token realm, `Location` headers). When
    /// unset, each request's `Host` header stands in for it.
    pub external_url: Option<String>,
    /// How long a cached reference resolution or project may be served.
    pub cache_ttl: Duration,
    /// Name of the blob storage backend, as `systeminfo` reports it.
    pub storage_name: String,
    /// Whether anyone may create their own account (`POST /api/v2.0/users` unauthenticated).
    pub self_registration: bool,
    /// Failed logins per account and client address within `login_window` before `429`.
    pub login_failures_per_account: u32,
    /// Failed logins per client address within `login_window` before `429`.
    pub login_failures_per_address: u32,
    /// The sliding window of the login rate limits.
    pub login_window: Duration,
    /// Client addresses never throttled (an administrator's network).
    pub login_exempt: Vec<ipnet::IpNet>,
    /// Audit entries older than this many days are purged daily; 0 keeps them forever.
    pub audit_retention_days: u32,
    /// Take the client address from `X-Forwarded-For` / `X-Real-IP` (behind a proxy).
    pub trust_proxy_headers: bool,
    /// The server terminates TLS itself (the scheme of URLs built from `Host`).
    pub https: bool,
    /// Webhook delivery: attempts, timeout, backlog.
    pub webhooks: crate::webhooks::WebhookSettings,
    /// The key callers of the scanner adapter API (`/api/v1`) must present; the adapter
    /// API is off without one.
    pub scanner_adapter_api_key: Option<String>,
    /// Where the vulnerability database lives (`<data-dir>/vulndb`).
    pub vulndb_dir: Option<std::path::PathBuf>,
    /// Signing keys and certificates projects trust, from the configuration.
    pub trusted: crate::policy::signatures::ConfiguredTrust,
    /// Which registries Kubernetes admission lets clusters pull from.
    pub admission: crate::admission::AdmissionSettings,
    /// Usage, in percent of a project's storage limit, from which pushes raise QUOTA_WARNING.
    pub quota_warning_percent: u8,
    /// The bearer token `/metrics` requires; open to anyone without one.
    pub metrics_token: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_manifest_size: 4 * 1024 * 1024,
            external_url: None,
            cache_ttl: Duration::from_secs(2),
            storage_name: "filesystem".into(),
            self_registration: false,
            login_failures_per_account: 10,
            login_failures_per_address: 50,
            login_window: Duration::from_secs(300),
            login_exempt: Vec::new(),
            audit_retention_days: 365,
            trust_proxy_headers: false,
            https: false,
            webhooks: crate::webhooks::WebhookSettings::default(),
            scanner_adapter_api_key: None,
            vulndb_dir: None,
            trusted: Default::default(),
            admission: Default::default(),
            quota_warning_percent: 85,
            metrics_token: None,
        }
    }
}

pub struct Registry {
    pub meta: MetaStore,
    pub blobs: BlobStore,
    /// Authentication and authorization.
    pub access: Arc<crate::access::Access>,
    /// Users, robots and project members.
    pub accounts: crate::accounts::Accounts,
    pub settings: Settings,
    pub(crate) audit_log: Arc<crate::audit::AuditRecorder>,
    /// Blobs and upload sessions of `/v2/`.
    pub uploads: crate::uploads::Uploads,
    /// Harbor's projects.
    pub projects: crate::projects::Projects,
    /// Harbor's labels and the artifacts that carry them.
    pub labels: crate::labels::Labels,
    /// The audit log as the API shows it: recording, listing, purging.
    pub audit: crate::audit_log::AuditLog,
    /// Every registry event goes through here (`reg.events.emit(Event::…)`).
    pub events: Arc<crate::events::EventBus>,
    /// Durable events of state changes and their subscribers.
    pub outbox: Arc<crate::events::Outbox>,
    pub webhooks: crate::webhooks::Webhooks,
    pub scanners: Arc<crate::scanners::Scanners>,
    /// What the pull gate and the push path judge by, and the gate itself.
    pub policy: Arc<crate::policy::Policy>,
    pub(crate) manifests: ManifestBytes,
    pub(crate) resolutions: Arc<Resolutions>,
    pub(crate) pulls: PullRecorder,
    /// Scans, reports, scan-all and CVE exports.
    pub scanning: Arc<crate::scanning::Scanning>,
}

/// Harbor's audit resource of a manifest: `repo:tag` or `repo@digest`.
pub(crate) fn audit_resource(repo: &RepoName, reference: &Reference) -> String {
    match reference {
        Reference::Tag(t) => format!("{repo}:{t}"),
        Reference::Digest(d) => format!("{repo}@{d}"),
    }
}

/// The host (and port) of a URL, as Harbor writes it in `resource_url`.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// A manifest as served.
#[derive(Debug, Clone)]
pub struct ManifestContent {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Bytes,
}

/// The outcome of a manifest push.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub digest: Digest,
    pub subject: Option<Digest>,
    pub artifact: Artifact,
}

/// A referrer as listed by the referrers API.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferrerDescriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Registry {
    /// Builds every service once, in dependency order. Scan requests follow scanner
    /// registrations, and pushes are scanned by a durable subscriber.
    pub fn new(
        meta: MetaStore,
        blobs: BlobStore,
        tokens: TokenService,
        settings: Settings,
        scan: crate::scanning::ScanSetup,
    ) -> Arc<Self> {
        let pulls = PullRecorder::start(meta.clone());
        let audit_log = Arc::new(crate::audit::AuditRecorder::start(meta.clone()));
        let access = Arc::new(crate::access::Access::new(
            meta.clone(),
            tokens,
            audit_log.clone(),
            crate::access::AccessSettings {
                cache_ttl: settings.cache_ttl,
                login_failures_per_account: settings.login_failures_per_account,
                login_failures_per_address: settings.login_failures_per_address,
                login_window: settings.login_window,
                login_exempt: settings.login_exempt.clone(),
            },
        ));
        let events = Arc::new(crate::events::EventBus::new());
        let mut webhook_settings = settings.webhooks.clone();
        if webhook_settings.host.is_none() {
            webhook_settings.host = settings.external_url.as_deref().map(url_host);
        }
        let webhooks = crate::webhooks::Webhooks::start(
            &events,
            meta.clone(),
            webhook_settings,
            access.clone(),
            audit_log.clone(),
        );
        let outbox = crate::events::Outbox::new(meta.clone());
        outbox.subscribe(Arc::new(crate::events::audit::AuditSubscriber));
        outbox.subscribe(webhooks.durable());
        let accounts = crate::accounts::Accounts::new(
            meta.clone(),
            access.clone(),
            audit_log.clone(),
            settings.self_registration,
        );
        let scanners = Arc::new(crate::scanners::Scanners::new(
            settings.scanner_adapter_api_key.clone(),
            settings.vulndb_dir.clone(),
            settings.external_url.clone(),
            meta.clone(),
            access.clone(),
            audit_log.clone(),
            scan.engine.budget.clone(),
        ));
        let epoch = crate::cache::GateEpoch::new();
        let scanning = Arc::new(crate::scanning::Scanning::new(
            scan,
            access.clone(),
            events.clone(),
            epoch.clone(),
        ));
        crate::scanners::engine::install(&scanners, &scanning);
        outbox.subscribe(crate::scanning::scan_on_push(
            meta.clone(),
            scanning.clone(),
        ));
        let policy = Arc::new(crate::policy::Policy::new(
            meta.clone(),
            blobs.clone(),
            access.clone(),
            audit_log.clone(),
            events.clone(),
            scanning.clone(),
            epoch,
            crate::policy::PolicySettings {
                cache_ttl: settings.cache_ttl,
                quota_warning_percent: settings.quota_warning_percent,
                trusted: settings.trusted.clone(),
            },
        ));
        let audit = crate::audit_log::AuditLog::new(
            meta.clone(),
            access.clone(),
            audit_log.clone(),
            settings.audit_retention_days,
        );
        let resolutions = Arc::new(Resolutions::new(settings.cache_ttl));
        let projects = crate::projects::Projects::new(
            meta.clone(),
            access.clone(),
            audit_log.clone(),
            policy.clone(),
            resolutions.clone(),
        );
        let labels = crate::labels::Labels::new(meta.clone(), access.clone(), audit_log.clone());
        Arc::new(Registry {
            uploads: crate::uploads::Uploads::new(meta.clone(), blobs.clone(), policy.clone()),
            projects,
            labels,
            audit,
            accounts,
            outbox,
            meta,
            blobs,
            access,
            audit_log,
            events,
            webhooks,
            scanners,
            policy,
            resolutions,
            manifests: ManifestBytes::new(64 * 1024 * 1024),
            settings,
            pulls,
            scanning,
        })
    }

    /// Starts handing over events that no request completed (left by a crash or a
    /// failure). Called once every durable subscriber is in place.
    pub fn start_outbox(&self) -> tokio::task::JoinHandle<()> {
        self.outbox.start()
    }

    /// After artifacts were deleted: cached resolutions and gate decisions go, and so do
    /// the reports of digests no repository holds any more (a failure there only leaves
    /// rows the next delete removes).
    pub(crate) async fn artifacts_removed(&self) {
        self.resolutions.invalidate();
        self.policy.gate_changed();
        match self.meta.scans().prune_reports().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(reports = n, "reports of deleted artifacts removed"),
            Err(e) => tracing::warn!(error = %e, "could not remove reports of deleted artifacts"),
        }
    }

    /// Flush pending pull and audit records and webhook events (shutdown).
    pub async fn flush(&self) {
        self.webhooks.flush().await;
        self.pulls.flush().await;
        self.audit_log.flush().await;
    }
}
