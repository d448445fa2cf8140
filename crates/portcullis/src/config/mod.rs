//! Settings: a TOML file < environment (`PORTCULLIS_…`) < flags. Every setting and every
//! environment variable is declared in [`settings`]; this module layers and checks them.

mod settings;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

pub use settings::{CommonArgs, ResolvedSettings, ServeSettings, command, vars};

#[derive(Debug, Clone)]
pub enum Storage {
    Filesystem(PathBuf),
    S3(portcullis_blob::S3Config),
}

/// Settings after all layers are merged and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Each setting as layered, with its default where no layer set it.
    pub settings: ResolvedSettings,
    pub database_url: String,
    /// `--external-url` without a trailing '/'.
    pub external_url: Option<String>,
    pub storage: Storage,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub scanner_adapter_api_key: Option<String>,
    pub admission: portcullis_core::admission::AdmissionSettings,
    /// Per-kind limits given by the operator (they win over the defaults).
    pub job_concurrency: BTreeMap<String, usize>,
    /// Networks the login limits never throttle.
    pub login_exempt: Vec<ipnet::IpNet>,
}

impl Config {
    /// Layers the settings file (`--config`) under `args` (the environment and the flags,
    /// as clap read them: flags win) and `data_dir` (the global flag) over the file's.
    pub fn load(args: ServeSettings, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
        let file: ServeSettings = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?
            }
            None => ServeSettings::default(),
        };
        let args = ServeSettings { data_dir, ..args };
        Config::check(file.layered(args).resolve())
    }

    /// Derives the composite settings and checks them.
    fn check(mut s: ResolvedSettings) -> anyhow::Result<Config> {
        let data_dir = s.data_dir.clone();
        let database_url = s.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("portcullis.db").display()
            )
        });
        let storage = match s.storage.as_str() {
            "filesystem" | "fs" => Storage::Filesystem(data_dir.join("storage")),
            "s3" => {
                let secret = match (s.s3_secret_key.clone(), s.s3_secret_key_file.as_deref()) {
                    (Some(k), _) => k,
                    (None, Some(path)) => read_secret_file(path)?,
                    (None, None) => {
                        anyhow::bail!("--storage s3 needs --s3-secret-key or --s3-secret-key-file")
                    }
                };
                let endpoint = s.s3_endpoint.clone();
                Storage::S3(portcullis_blob::S3Config {
                    allow_http: endpoint
                        .as_deref()
                        .is_some_and(|e| e.starts_with("http://")),
                    endpoint,
                    region: s.s3_region.clone(),
                    bucket: s
                        .s3_bucket
                        .clone()
                        .context("--storage s3 needs --s3-bucket")?,
                    access_key: s
                        .s3_access_key
                        .clone()
                        .context("--storage s3 needs --s3-access-key")?,
                    secret_key: secret,
                    path_style: s.s3_path_style,
                    prefix: s.s3_prefix.clone(),
                })
            }
            other => anyhow::bail!("unknown storage backend {other:?}: use filesystem or s3"),
        };
        let tls = match (s.tls_cert.clone(), s.tls_key.clone()) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        let scanner_adapter_api_key = match (
            s.scanner_adapter_api_key.clone(),
            s.scanner_adapter_api_key_file.as_deref(),
        ) {
            (Some(k), _) => Some(k),
            (None, Some(path)) => Some(read_secret_file(path)?),
            (None, None) => None,
        }
        .filter(|k| !k.is_empty());
        let external_url = s
            .external_url
            .as_deref()
            .map(|u| u.trim_end_matches('/').to_string());
        // Admission judges images addressed to this registry's public host by default.
        let external_host = external_url.as_deref().and_then(|u| {
            let rest = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
            rest.split('/').next().map(str::to_ascii_lowercase)
        });
        let admission = portcullis_core::admission::AdmissionSettings {
            own_hosts: s
                .admission_registry_hosts
                .clone()
                .unwrap_or_else(|| external_host.into_iter().collect()),
            allowed_registries: s.admission_allowed_registries.clone().unwrap_or_default(),
            token: s.admission_token.clone(),
        };
        if !(1..=100).contains(&s.quota_warning_percent) {
            anyhow::bail!(
                "quota_warning_percent must be 1 to 100, not {}",
                s.quota_warning_percent
            );
        }
        let job_concurrency = parse_concurrency(s.job_concurrency.as_deref().unwrap_or_default())?;
        s.webhook_max_attempts = s.webhook_max_attempts.max(1);
        s.webhook_timeout_seconds = s.webhook_timeout_seconds.max(1);
        s.webhook_backlog = s.webhook_backlog.max(1);
        s.scan_workers = s.scan_workers.max(1);
        // A zero deadline would close every connection at once: one second is the least.
        s.header_timeout_seconds = s.header_timeout_seconds.max(1);
        s.body_timeout_seconds = s.body_timeout_seconds.max(1);
        s.send_timeout_seconds = s.send_timeout_seconds.max(1);
        s.max_connections = s.max_connections.max(1);
        let login_exempt = parse_networks(s.login_exempt_networks.as_deref().unwrap_or_default())?;
        s.scan_memory_budget_mb = s.scan_memory_budget_mb.max(1);
        Ok(Config {
            settings: s,
            database_url,
            external_url,
            storage,
            tls,
            scanner_adapter_api_key,
            admission,
            job_concurrency,
            login_exempt,
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

/// `kind=N` pairs; N at least 1.
fn parse_concurrency(list: &[String]) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
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

/// CIDR networks (`10.1.0.0/16`, `::1/128`); a bare address stands for itself alone.
fn parse_networks(items: &[String]) -> anyhow::Result<Vec<ipnet::IpNet>> {
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "login_exempt_networks: {s:?} is not a network such as 10.1.0.0/16"
                    )
                })
        })
        .collect()
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
