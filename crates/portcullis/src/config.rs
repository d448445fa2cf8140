//! Settings: a TOML file < environment (`PORTCULLIS_…`) < flags. Every environment
//! variable is declared here, on the flag it feeds.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

#[derive(Debug, Clone, clap::Args, Default)]
pub struct ServeArgs {
    /// TOML settings file; its keys are the long flag names with '_' for '-'.
    #[arg(long, env = "PORTCULLIS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 0.0.0.0:5000].
    #[arg(long, env = "PORTCULLIS_LISTEN")]
    pub listen: Option<String>,
    /// Metadata database: a `postgres://…` URL selects PostgreSQL [default: SQLite file `<data-dir>/portcullis.db`].
    #[arg(long, env = "PORTCULLIS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// URL clients reach the registry at, used in the token realm and `Location` headers
    /// [default: taken from each request's Host header].
    #[arg(long, env = "PORTCULLIS_EXTERNAL_URL")]
    pub external_url: Option<String>,
    /// Blob storage backend: `filesystem` (under `<data-dir>/storage`) or `s3` [default: filesystem].
    #[arg(long, env = "PORTCULLIS_STORAGE")]
    pub storage: Option<String>,
    /// S3 endpoint URL (MinIO, Ceph, moto, …); omit for AWS.
    #[arg(long, env = "PORTCULLIS_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region [default: us-east-1].
    #[arg(long, env = "PORTCULLIS_S3_REGION")]
    pub s3_region: Option<String>,
    /// S3 bucket.
    #[arg(long, env = "PORTCULLIS_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// S3 access key id.
    #[arg(long, env = "PORTCULLIS_S3_ACCESS_KEY")]
    pub s3_access_key: Option<String>,
    /// S3 secret key.
    #[arg(long, env = "PORTCULLIS_S3_SECRET_KEY", hide_env_values = true)]
    pub s3_secret_key: Option<String>,
    /// File holding the S3 secret key (must not be readable by group or others).
    #[arg(long, env = "PORTCULLIS_S3_SECRET_KEY_FILE")]
    pub s3_secret_key_file: Option<PathBuf>,
    /// Use path-style S3 URLs (needed by most self-hosted servers).
    #[arg(long, env = "PORTCULLIS_S3_PATH_STYLE")]
    pub s3_path_style: Option<bool>,
    /// Key prefix inside the bucket.
    #[arg(long, env = "PORTCULLIS_S3_PREFIX")]
    pub s3_prefix: Option<String>,
    /// TLS certificate chain (PEM); with --tls-key, serve HTTPS.
    #[arg(long, env = "PORTCULLIS_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "PORTCULLIS_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Largest manifest accepted, in bytes [default: 4194304].
    #[arg(long, env = "PORTCULLIS_MAX_MANIFEST_SIZE")]
    pub max_manifest_size: Option<usize>,
    /// Hours after which an unfinished upload is removed [default: 24].
    #[arg(long, env = "PORTCULLIS_UPLOAD_EXPIRY_HOURS")]
    pub upload_expiry_hours: Option<u64>,
    /// Lifetime of registry bearer tokens, in minutes [default: 30].
    #[arg(long, env = "PORTCULLIS_TOKEN_TTL_MINUTES")]
    pub token_ttl_minutes: Option<u64>,
    /// Behind a reverse proxy: take the client address from X-Forwarded-For / X-Real-IP.
    #[arg(long, env = "PORTCULLIS_TRUST_PROXY_HEADERS")]
    pub trust_proxy_headers: Option<bool>,
    /// Let anyone create a user account through the Harbor API [default: false].
    #[arg(long, env = "PORTCULLIS_SELF_REGISTRATION")]
    pub self_registration: Option<bool>,
    /// Days to keep audit log entries; 0 keeps them forever [default: 365].
    #[arg(long, env = "PORTCULLIS_AUDIT_RETENTION_DAYS")]
    pub audit_retention_days: Option<u32>,
    /// Percent of a project's storage limit from which pushes raise QUOTA_WARNING [default: 85].
    #[arg(long, env = "PORTCULLIS_QUOTA_WARNING_PERCENT", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quota_warning_percent: Option<u8>,
    /// Log as JSON lines instead of readable text.
    #[arg(long, env = "PORTCULLIS_LOG_JSON")]
    pub log_json: Option<bool>,
    /// Attempts per webhook delivery before it is recorded as failed [default: 3].
    #[arg(long, env = "PORTCULLIS_WEBHOOK_MAX_ATTEMPTS")]
    pub webhook_max_attempts: Option<u32>,
    /// Seconds one webhook attempt may take [default: 3].
    #[arg(long, env = "PORTCULLIS_WEBHOOK_TIMEOUT_SECONDS")]
    pub webhook_timeout_seconds: Option<u64>,
    /// Milliseconds before the first webhook retry; each further retry waits twice as long [default: 5000].
    #[arg(long, env = "PORTCULLIS_WEBHOOK_RETRY_DELAY_MS")]
    pub webhook_retry_delay_ms: Option<u64>,
    /// Events waiting for webhook dispatch at most; more are dropped and counted [default: 10000].
    #[arg(long, env = "PORTCULLIS_WEBHOOK_BACKLOG")]
    pub webhook_backlog: Option<usize>,
    /// Serve the built-in scanner as a Harbor scanner adapter under /api/v1, to callers
    /// presenting this key [default: the adapter API is off].
    #[arg(
        long,
        env = "PORTCULLIS_SCANNER_ADAPTER_API_KEY",
        hide_env_values = true
    )]
    pub scanner_adapter_api_key: Option<String>,
    /// File holding the scanner adapter API key (must not be readable by group or others).
    #[arg(long, env = "PORTCULLIS_SCANNER_ADAPTER_API_KEY_FILE")]
    pub scanner_adapter_api_key_file: Option<PathBuf>,
    /// Directory of signing keys projects trust: `<project>/cosign/*.pub` (PEM public
    /// keys) and `<project>/notation/*.crt` (PEM certificates), read at startup.
    #[arg(long, env = "PORTCULLIS_TRUSTED_KEYS_DIR")]
    pub trusted_keys_dir: Option<PathBuf>,
    /// Kubernetes admission: host[:port] names under which clusters reach this registry,
    /// comma-separated, each optionally with a path (`host/prod`) to admit only images
    /// under it; their images are judged by the pull gate [default: the host of
    /// --external-url].
    #[arg(
        long,
        env = "PORTCULLIS_ADMISSION_REGISTRY_HOSTS",
        value_delimiter = ','
    )]
    pub admission_registry_hosts: Option<Vec<String>>,
    /// Kubernetes admission: other registries (optionally with a path prefix) whose images
    /// may run, comma-separated (`*` for any) [default: none].
    #[arg(
        long,
        env = "PORTCULLIS_ADMISSION_ALLOWED_REGISTRIES",
        value_delimiter = ','
    )]
    pub admission_allowed_registries: Option<Vec<String>>,
    /// Kubernetes admission: a bearer token the API server must present [default: none].
    #[arg(long, env = "PORTCULLIS_ADMISSION_TOKEN", hide_env_values = true)]
    pub admission_token: Option<String>,
    /// Scans this node runs at once [default: 2].
    #[arg(long, env = "PORTCULLIS_SCAN_WORKERS")]
    pub scan_workers: Option<usize>,
    /// Jobs of a kind this node runs at once, as `kind=N`, comma-separated (kinds:
    /// scan, adapter-scan, webhook, rejudge, scan-all, cve-export, purge-audit,
    /// expire-uploads) [default: scan per --scan-workers, webhook 16, others 4].
    #[arg(long, env = "PORTCULLIS_JOB_CONCURRENCY", value_delimiter = ',')]
    pub job_concurrency: Option<Vec<String>>,
    /// Cache each layer's package inventory so that a new vulnerability database
    /// re-judges every image without reading layers [default: true].
    #[arg(long, env = "PORTCULLIS_SCAN_LAYER_CACHE")]
    pub scan_layer_cache: Option<bool>,
    /// Base URL of OSV per-ecosystem archives to download the vulnerability database
    /// from on a schedule (e.g. https://osv-vulnerabilities.storage.googleapis.com).
    #[arg(long, env = "PORTCULLIS_VULNDB_UPDATE_URL")]
    pub vulndb_update_url: Option<String>,
    /// When to update the vulnerability database from that URL (cron, seconds first,
    /// UTC) [default: "0 0 4 * * *"].
    #[arg(long, env = "PORTCULLIS_VULNDB_UPDATE_CRON")]
    pub vulndb_update_cron: Option<String>,
}

/// The file layer: the same names as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    external_url: Option<String>,
    storage: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_bucket: Option<String>,
    s3_access_key: Option<String>,
    s3_secret_key: Option<String>,
    s3_secret_key_file: Option<PathBuf>,
    s3_path_style: Option<bool>,
    s3_prefix: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    max_manifest_size: Option<usize>,
    upload_expiry_hours: Option<u64>,
    token_ttl_minutes: Option<u64>,
    log_json: Option<bool>,
    trust_proxy_headers: Option<bool>,
    self_registration: Option<bool>,
    audit_retention_days: Option<u32>,
    webhook_max_attempts: Option<u32>,
    webhook_timeout_seconds: Option<u64>,
    webhook_retry_delay_ms: Option<u64>,
    webhook_backlog: Option<usize>,
    scanner_adapter_api_key: Option<String>,
    scanner_adapter_api_key_file: Option<PathBuf>,
    trusted_keys_dir: Option<PathBuf>,
    admission_registry_hosts: Option<Vec<String>>,
    admission_allowed_registries: Option<Vec<String>>,
    admission_token: Option<String>,
    quota_warning_percent: Option<u8>,
    scan_workers: Option<usize>,
    job_concurrency: Option<std::collections::BTreeMap<String, usize>>,
    scan_layer_cache: Option<bool>,
    vulndb_update_url: Option<String>,
    vulndb_update_cron: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Storage {
    Filesystem(PathBuf),
    S3(portcullis_blob::S3Config),
}

/// Settings after all layers are merged and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub external_url: Option<String>,
    pub storage: Storage,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub max_manifest_size: usize,
    pub upload_expiry_hours: u64,
    pub token_ttl_minutes: u64,
    pub log_json: bool,
    pub trust_proxy_headers: bool,
    pub self_registration: bool,
    pub audit_retention_days: u32,
    pub webhook_max_attempts: u32,
    pub webhook_timeout_seconds: u64,
    pub webhook_retry_delay_ms: u64,
    pub webhook_backlog: usize,
    pub scanner_adapter_api_key: Option<String>,
    pub trusted_keys_dir: Option<PathBuf>,
    pub admission: portcullis_core::admission::AdmissionSettings,
    pub quota_warning_percent: u8,
    pub scan_workers: usize,
    /// Per-kind limits given by the operator (they win over the defaults).
    pub job_concurrency: std::collections::BTreeMap<String, usize>,
    pub scan_layer_cache: bool,
    pub vulndb_update_url: Option<String>,
    pub vulndb_update_cron: String,
}

impl Config {
    pub fn load(args: ServeArgs, data_dir_flag: Option<PathBuf>) -> anyhow::Result<Config> {
        let file: FileConfig = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = data_dir_flag
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = args.database_url.or(file.database_url).unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("portcullis.db").display()
            )
        });
        let storage_kind = args
            .storage
            .or(file.storage)
            .unwrap_or_else(|| "filesystem".into());
        let storage = match storage_kind.as_str() {
            "filesystem" | "fs" => Storage::Filesystem(data_dir.join("storage")),
            "s3" => {
                let secret = match (
                    args.s3_secret_key.or(file.s3_secret_key),
                    args.s3_secret_key_file.or(file.s3_secret_key_file),
                ) {
                    (Some(s), _) => s,
                    (None, Some(path)) => read_secret_file(&path)?,
                    (None, None) => {
                        anyhow::bail!("--storage s3 needs --s3-secret-key or --s3-secret-key-file")
                    }
                };
                let endpoint = args.s3_endpoint.or(file.s3_endpoint);
                Storage::S3(portcullis_blob::S3Config {
                    allow_http: endpoint
                        .as_deref()
                        .is_some_and(|e| e.starts_with("http://")),
                    endpoint,
                    region: args
                        .s3_region
                        .or(file.s3_region)
                        .unwrap_or_else(|| "us-east-1".into()),
                    bucket: args
                        .s3_bucket
                        .or(file.s3_bucket)
                        .context("--storage s3 needs --s3-bucket")?,
                    access_key: args
                        .s3_access_key
                        .or(file.s3_access_key)
                        .context("--storage s3 needs --s3-access-key")?,
                    secret_key: secret,
                    path_style: args.s3_path_style.or(file.s3_path_style).unwrap_or(true),
                    prefix: args.s3_prefix.or(file.s3_prefix),
                })
            }
            other => anyhow::bail!("unknown storage backend {other:?}: use filesystem or s3"),
        };
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        let scanner_adapter_api_key = match (
            args.scanner_adapter_api_key
                .or(file.scanner_adapter_api_key),
            args.scanner_adapter_api_key_file
                .or(file.scanner_adapter_api_key_file),
        ) {
            (Some(k), _) => Some(k),
            (None, Some(path)) => Some(read_secret_file(&path)?),
            (None, None) => None,
        }
        .filter(|k| !k.is_empty());
        let external_url = args
            .external_url
            .clone()
            .or(file.external_url.clone())
            .map(|u| u.trim_end_matches('/').to_string());
        // Admission judges images addressed to this registry's public host by default.
        let external_host = external_url.as_deref().and_then(|u| {
            let rest = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
            rest.split('/').next().map(str::to_ascii_lowercase)
        });
        Ok(Config {
            scanner_adapter_api_key,
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "0.0.0.0:5000".into()),
            data_dir,
            database_url,
            external_url: external_url.clone(),
            storage,
            tls,
            max_manifest_size: args
                .max_manifest_size
                .or(file.max_manifest_size)
                .unwrap_or(4 * 1024 * 1024),
            upload_expiry_hours: args
                .upload_expiry_hours
                .or(file.upload_expiry_hours)
                .unwrap_or(24),
            token_ttl_minutes: args
                .token_ttl_minutes
                .or(file.token_ttl_minutes)
                .unwrap_or(30),
            log_json: args.log_json.or(file.log_json).unwrap_or(false),
            trust_proxy_headers: args
                .trust_proxy_headers
                .or(file.trust_proxy_headers)
                .unwrap_or(false),
            self_registration: args
                .self_registration
                .or(file.self_registration)
                .unwrap_or(false),
            audit_retention_days: args
                .audit_retention_days
                .or(file.audit_retention_days)
                .unwrap_or(365),
            webhook_max_attempts: args
                .webhook_max_attempts
                .or(file.webhook_max_attempts)
                .unwrap_or(3)
                .max(1),
            webhook_timeout_seconds: args
                .webhook_timeout_seconds
                .or(file.webhook_timeout_seconds)
                .unwrap_or(3)
                .max(1),
            webhook_retry_delay_ms: args
                .webhook_retry_delay_ms
                .or(file.webhook_retry_delay_ms)
                .unwrap_or(5000),
            webhook_backlog: args
                .webhook_backlog
                .or(file.webhook_backlog)
                .unwrap_or(10_000)
                .max(1),
            trusted_keys_dir: args.trusted_keys_dir.or(file.trusted_keys_dir),
            admission: portcullis_core::admission::AdmissionSettings {
                own_hosts: args
                    .admission_registry_hosts
                    .or(file.admission_registry_hosts)
                    .unwrap_or_else(|| external_host.into_iter().collect()),
                allowed_registries: args
                    .admission_allowed_registries
                    .or(file.admission_allowed_registries)
                    .unwrap_or_default(),
                token: args.admission_token.or(file.admission_token),
            },
            quota_warning_percent: match args
                .quota_warning_percent
                .or(file.quota_warning_percent)
                .unwrap_or(85)
            {
                p @ 1..=100 => p,
                p => anyhow::bail!("quota_warning_percent must be 1 to 100, not {p}"),
            },
            scan_workers: args.scan_workers.or(file.scan_workers).unwrap_or(2).max(1),
            job_concurrency: match args.job_concurrency {
                Some(list) => parse_concurrency(&list)?,
                None => file.job_concurrency.unwrap_or_default(),
            },
            scan_layer_cache: args
                .scan_layer_cache
                .or(file.scan_layer_cache)
                .unwrap_or(true),
            vulndb_update_url: args.vulndb_update_url.or(file.vulndb_update_url),
            vulndb_update_cron: args
                .vulndb_update_cron
                .or(file.vulndb_update_cron)
                .unwrap_or_else(|| "0 0 4 * * *".to_string()),
        })
    }
}

/// Reads a secret from a file that only its owner may read.
fn read_secret_file(path: &Path) -> anyhow::Result<String> {
    portcullis_core::setup::check_private(path)?;
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim()
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:7000\"\nmax_manifest_size = 100\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            max_manifest_size: Some(200),
            ..Default::default()
        };
        let c = Config::load(args, Some(dir.path().to_path_buf())).unwrap();
        assert_eq!(c.listen, "127.0.0.1:7000");
        assert_eq!(c.max_manifest_size, 200);
        assert!(c.database_url.starts_with("sqlite://"));
        assert!(matches!(c.storage, Storage::Filesystem(_)));
        std::fs::write(&file, "bogus = 1\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            ..Default::default()
        };
        assert!(Config::load(args, None).is_err());
        let args = ServeArgs {
            storage: Some("s3".into()),
            ..Default::default()
        };
        assert!(Config::load(args, None).is_err());
    }
}

/// `kind=N` pairs; N at least 1.
fn parse_concurrency(list: &[String]) -> anyhow::Result<std::collections::BTreeMap<String, usize>> {
    let mut out = std::collections::BTreeMap::new();
    for item in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let parsed = item
            .split_once('=')
            .and_then(|(k, n)| Some((k.trim(), n.trim().parse::<usize>().ok()?)))
            .filter(|(k, n)| !k.is_empty() && *n > 0);
        let Some((kind, n)) = parsed else {
            anyhow::bail!("--job-concurrency wants kind=N with N at least 1, not {item:?}");
        };
        out.insert(kind.to_string(), n);
    }
    Ok(out)
}

#[cfg(test)]
mod concurrency_tests {
    #[test]
    fn kind_limits() {
        let m = super::parse_concurrency(&["scan=3".into(), " webhook = 8 ".into()]).unwrap();
        assert_eq!(m["scan"], 3);
        assert_eq!(m["webhook"], 8);
        for bad in ["scan", "scan=0", "=2", "scan=x"] {
            assert!(super::parse_concurrency(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
