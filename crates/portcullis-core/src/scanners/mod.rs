//! Pluggable scanners in both directions: registrations of external Harbor scanner
//! adapters (and the built-in scanner as one of them), the client that drives an
//! adapter, and the built-in scanner served as an adapter for Harbor to use.

pub mod adapter;
pub mod client;
pub mod engine;
pub mod external;
pub mod pull;
pub mod registrations;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use portcullis_meta::ScannerRegistration;
use portcullis_vulndb::{DbMetadata, SharedVulnDb, VulnDb};

use self::client::{AdapterClient, AdapterMetadata, Capability, ScannerProduct};

/// The uuid of the built-in scanner's registration.
pub const BUILTIN_UUID: &str = "7f1d9a52-3c1e-4b8a-9d2e-706f72746375";
/// Its name as listed.
pub const BUILTIN_NAME: &str = "Portcullis";
/// Its URL: the scanner runs inside the registry, not behind HTTP.
pub const BUILTIN_URL: &str = "builtin://portcullis";

/// MIME types of the scanner adapter API.
pub mod mime {
    pub const METADATA_1_0: &str = "application/vnd.scanner.adapter.metadata+json; version=1.0";
    pub const METADATA_1_1: &str = "application/vnd.scanner.adapter.metadata+json; version=1.1";
    pub const SCAN_REQUEST_1_0: &str =
        "application/vnd.scanner.adapter.scan.request+json; version=1.0";
    pub const SCAN_REQUEST_1_1: &str =
        "application/vnd.scanner.adapter.scan.request+json; version=1.1";
    pub const SCAN_RESPONSE: &str =
        "application/vnd.scanner.adapter.scan.response+json; version=1.0";
    pub const ERROR: &str = "application/vnd.scanner.adapter.error+json; version=1.0";
    /// Harbor's vulnerability report as it stores it.
    pub const REPORT_1_1: &str = "application/vnd.security.vulnerability.report; version=1.1";
    /// The older name of the same report shape.
    pub const REPORT_HARBOR_1_0: &str =
        "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Artifact types the built-in scanner consumes.
    pub const CONSUMES: [&str; 2] = [OCI_MANIFEST, DOCKER_MANIFEST];
    /// Report types it produces.
    pub const PRODUCES: [&str; 2] = [REPORT_1_1, REPORT_HARBOR_1_0];
}

/// The built-in scanner's registration row.
pub fn builtin_registration() -> ScannerRegistration {
    let now = time::OffsetDateTime::now_utc();
    ScannerRegistration {
        uuid: BUILTIN_UUID.into(),
        name: BUILTIN_NAME.into(),
        description: "The scanner built into Portcullis: OS and language packages matched \
                      against the offline OSV database."
            .into(),
        url: BUILTIN_URL.into(),
        disabled: false,
        is_default: false,
        auth: String::new(),
        access_credential: String::new(),
        skip_cert_verify: false,
        use_internal_addr: true,
        immutable: true,
        create_time: now,
        update_time: now,
    }
}

/// The vulnerability database of `<data_dir>/vulndb`, opened on first use and swapped
/// for a newer file when one is imported.
pub struct VulnDbCache {
    dir: Option<PathBuf>,
    shared: Mutex<Option<Arc<SharedVulnDb>>>,
}

impl VulnDbCache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        VulnDbCache {
            dir,
            shared: Mutex::new(None),
        }
    }

    /// The database to scan with now, if one was imported.
    pub fn current(&self) -> Option<Arc<VulnDb>> {
        let dir = self.dir.as_ref()?;
        let mut guard = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = guard.as_ref() {
            if let Err(e) = shared.reload_if_changed() {
                tracing::warn!(error = %e, "reloading the vulnerability database failed");
            }
            return Some(shared.current());
        }
        match VulnDb::open(dir) {
            Ok(db) => {
                let shared = Arc::new(SharedVulnDb::new(db));
                let current = shared.current();
                *guard = Some(shared);
                Some(current)
            }
            Err(e) => {
                tracing::debug!(error = %e, "no vulnerability database to scan with");
                None
            }
        }
    }

    /// What the database in use holds and when it was written.
    pub fn metadata(&self) -> Option<DbMetadata> {
        self.current().map(|db| db.metadata().clone())
    }
}

/// What the scanner features need at run time.
pub struct Scanners {
    /// Calls external adapters.
    pub client: AdapterClient,
    /// Pulls images for scan requests made to the built-in adapter.
    pub(crate) pull_client: reqwest::Client,
    /// The key callers of the built-in adapter present; the adapter is off without one.
    pub(crate) api_key: Option<String>,
    pub vulndb: VulnDbCache,
    /// This server's own address as seen from this host, set once it listens.
    internal_url: OnceLock<String>,
    /// The registry's configured base URL, which adapters pull from by default.
    pub(crate) external_url: Option<String>,
    pub(crate) meta: portcullis_meta::MetaStore,
    pub(crate) access: std::sync::Arc<crate::access::Access>,
    pub(crate) audit_log: std::sync::Arc<crate::audit::AuditRecorder>,
    /// The memory budget the built-in engine's scans draw from, shared with them.
    pub(crate) scan_budget: portcullis_scan::MemoryBudget,
}

impl Scanners {
    pub fn new(
        api_key: Option<String>,
        vulndb_dir: Option<PathBuf>,
        external_url: Option<String>,
        meta: portcullis_meta::MetaStore,
        access: std::sync::Arc<crate::access::Access>,
        audit_log: std::sync::Arc<crate::audit::AuditRecorder>,
        scan_budget: portcullis_scan::MemoryBudget,
    ) -> Self {
        Scanners {
            client: AdapterClient::new(),
            pull_client: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .read_timeout(std::time::Duration::from_secs(120))
                .build()
                .unwrap_or_default(),
            api_key: api_key.filter(|k| !k.is_empty()),
            vulndb: VulnDbCache::new(vulndb_dir),
            internal_url: OnceLock::new(),
            external_url,
            meta,
            access,
            audit_log,
            scan_budget,
        }
    }

    /// Records the address the server listens on, for adapters on this host to pull
    /// from (a wildcard address is reached through loopback).
    pub fn set_listen_addr(&self, addr: std::net::SocketAddr, https: bool) {
        let host = match addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let scheme = if https { "https" } else { "http" };
        let _ = self
            .internal_url
            .set(format!("{scheme}://{host}:{}", addr.port()));
    }

    /// The server's own address, once it listens.
    pub fn internal_url(&self) -> Option<String> {
        self.internal_url.get().cloned()
    }

    /// The built-in scanner's adapter metadata, with the database's age.
    pub fn builtin_metadata(&self) -> AdapterMetadata {
        let mut properties = std::collections::BTreeMap::new();
        properties.insert(
            "harbor.scanner-adapter/scanner-type".to_string(),
            "os-package-vulnerability".to_string(),
        );
        properties.insert(
            "harbor.scanner-adapter/registry-authorization-type".to_string(),
            "Bearer".to_string(),
        );
        if let Some(m) = self.vulndb.metadata() {
            let at = m
                .updated_at
                .to_offset(time::UtcOffset::UTC)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            properties.insert(
                "harbor.scanner-adapter/vulnerability-database-updated-at".to_string(),
                at,
            );
            properties.insert(
                "org.portcullis.vulnerability-database/generation".to_string(),
                m.generation.to_string(),
            );
        }
        AdapterMetadata {
            scanner: ScannerProduct {
                name: BUILTIN_NAME.into(),
                vendor: BUILTIN_NAME.into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            capabilities: vec![Capability {
                kind: Some("vulnerability".into()),
                consumes_mime_types: mime::CONSUMES.iter().map(|s| s.to_string()).collect(),
                produces_mime_types: mime::PRODUCES.iter().map(|s| s.to_string()).collect(),
                additional_attributes: None,
            }],
            properties,
        }
    }
}
