//! Where every setting is declared, once: its name (the flag `--name`, the settings-file
//! key `name` with '_' for '-'), type, default, help text and environment variable.
//!
//! [`ServeSettings`] holds one layer of `portcullis serve` settings: clap fills one from
//! the flags and the environment (flags win), serde fills one from the settings file,
//! and [`ServeSettings::layered`] stacks them. [`ServeSettings::resolve`] then fills in
//! the defaults, giving [`ResolvedSettings`], where a setting with a default has its
//! plain type. The other environment variables the binary reads are declared in [`vars`].

use std::path::PathBuf;

use serde::Deserialize;

/// Declares the serve settings struct, each field written as
/// `/// help` `#[arg(…)]` `pub name: Option<T> = default,` (the default optional: a
/// literal, of the type or a string for `String` and `PathBuf`), and generates from the
/// same list:
/// - `layered`, which stacks two layers, field by field,
/// - the resolved struct, where a field with a default has type `T`, and `resolve`,
/// - `shown_defaults`, from which [`command`] adds `[default: …]` to the help texts.
macro_rules! settings {
    (
        $(#[$meta:meta])*
        pub struct $name:ident => $resolved:ident {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident : Option<$ty:ty> $(= $default:expr)?,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[$field_meta])*
                pub $field: Option<$ty>,
            )*
        }

        /// Every serve setting after layering, with its default when no layer set it.
        #[derive(Debug, Clone)]
        #[allow(dead_code, reason = "`config` is read before layering")]
        pub struct $resolved {
            $( pub $field: resolved_type!($ty, $($default)?), )*
        }

        impl $name {
            /// This layer with every setting that `over` sets taken from `over`.
            pub fn layered(self, over: $name) -> $name {
                $name { $( $field: over.$field.or(self.$field), )* }
            }

            /// Fills in the defaults.
            pub fn resolve(self) -> $resolved {
                $resolved { $( $field: resolved_value!(self.$field, $($default)?), )* }
            }

            /// The settings that have a default, with it as written in `--help` (quoted
            /// when it has a space, as clap does).
            pub fn shown_defaults() -> Vec<(&'static str, String)> {
                let show = |d: &str| match d.contains(' ') {
                    true => format!("{d:?}"),
                    false => d.to_string(),
                };
                vec![$( $( (stringify!($field), show(concat!($default))), )? )*]
            }
        }
    };
}

macro_rules! resolved_type {
    ($ty:ty, $default:expr) => { $ty };
    ($ty:ty,) => { Option<$ty> };
}

macro_rules! resolved_value {
    ($value:expr, $default:expr) => {
        $value.unwrap_or_else(|| FromDefault::from_default($default))
    };
    ($value:expr,) => {
        $value
    };
}

/// Turns a default written as a literal into the setting's type.
trait FromDefault<L> {
    fn from_default(literal: L) -> Self;
}

impl<T> FromDefault<T> for T {
    fn from_default(literal: T) -> T {
        literal
    }
}

impl FromDefault<&'static str> for String {
    fn from_default(literal: &'static str) -> String {
        literal.to_string()
    }
}

impl FromDefault<&'static str> for PathBuf {
    fn from_default(literal: &'static str) -> PathBuf {
        PathBuf::from(literal)
    }
}

/// The settings of every subcommand.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// Directory for all local state: SQLite database, blobs (filesystem backend), signing
    /// key, vulnerability database.
    // Its default is the serve setting `data_dir`'s, which `command` adds to this help.
    #[arg(long, global = true, env = "PORTCULLIS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl CommonArgs {
    /// `--data-dir`, else its default.
    pub fn data_dir(&self) -> PathBuf {
        let default = || ServeSettings::default().resolve().data_dir;
        self.data_dir.clone().unwrap_or_else(default)
    }
}

/// Environment variables that are not flags of `portcullis serve`.
pub mod vars {
    /// The `admin` user's password, used when the first start creates it (without it a
    /// random one is generated and printed once).
    pub const ADMIN_PASSWORD: &str = "PORTCULLIS_ADMIN_PASSWORD";
    /// The log filter, in `tracing_subscriber::EnvFilter` syntax (e.g. `debug`).
    pub const LOG: &str = "PORTCULLIS_LOG";
    /// `portcullis vulndb update --base-url`.
    pub const VULNDB_URL: &str = "PORTCULLIS_VULNDB_URL";
    /// `portcullis gate --username`.
    pub const USERNAME: &str = "PORTCULLIS_USERNAME";
    /// `portcullis gate --password`.
    pub const PASSWORD: &str = "PORTCULLIS_PASSWORD";
}

/// Completes the command line `portcullis` parses: adds each serve setting's default to its
/// help text (the settings have none for clap, so that a layer can tell what it set), and
/// gives the environment variables declared here to other crates' arguments.
pub fn command(cli: clap::Command) -> clap::Command {
    let defaults = ServeSettings::shown_defaults();
    let show_default = |arg: clap::Arg| {
        let id = arg.get_id().as_str();
        match defaults.iter().find(|(field, _)| *field == id) {
            Some((_, default)) => {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.help(format!("{help} [default: {default}]"))
            }
            None => arg,
        }
    };
    cli.mut_arg("data_dir", show_default)
        .mut_subcommand("serve", |serve| serve.mut_args(show_default))
        .mut_subcommand("vulndb", |vulndb| {
            vulndb.mut_subcommand("update", |update| {
                update.mut_arg("base_url", |a| a.env(vars::VULNDB_URL))
            })
        })
}

settings! {
    /// One layer of `portcullis serve` settings.
    #[derive(Debug, Clone, Default, clap::Args, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    pub struct ServeSettings => ResolvedSettings {
        /// TOML settings file; its keys are the long flag names with '_' for '-'.
        #[arg(long, env = "PORTCULLIS_CONFIG")]
        #[serde(skip)]
        pub config: Option<PathBuf>,
        /// `data_dir` in the settings file; on the command line it is the global --data-dir.
        #[arg(skip)]
        pub data_dir: Option<PathBuf> = "./data",
        /// Address and port to listen on
        #[arg(long, env = "PORTCULLIS_LISTEN")]
        pub listen: Option<String> = "0.0.0.0:5000",
        /// Metadata database: a `postgres://…` URL selects PostgreSQL [default: SQLite file `<data-dir>/portcullis.db`].
        #[arg(long, env = "PORTCULLIS_DATABASE_URL", hide_env_values = true)]
        pub database_url: Option<String>,
        /// URL clients reach the registry at, used in the token realm and `Location` headers
        /// [default: taken from each request's Host header].
        #[arg(long, env = "PORTCULLIS_EXTERNAL_URL")]
        pub external_url: Option<String>,
        /// Blob storage backend: `filesystem` (under `<data-dir>/storage`) or `s3`
        #[arg(long, env = "PORTCULLIS_STORAGE")]
        pub storage: Option<String> = "filesystem",
        /// S3 endpoint URL (MinIO, Ceph, moto, …); omit for AWS.
        #[arg(long, env = "PORTCULLIS_S3_ENDPOINT")]
        pub s3_endpoint: Option<String>,
        /// S3 region
        #[arg(long, env = "PORTCULLIS_S3_REGION")]
        pub s3_region: Option<String> = "us-east-1",
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
        /// Use path-style S3 URLs (needed by most self-hosted servers)
        #[arg(long, env = "PORTCULLIS_S3_PATH_STYLE")]
        pub s3_path_style: Option<bool> = true,
        /// Key prefix inside the bucket.
        #[arg(long, env = "PORTCULLIS_S3_PREFIX")]
        pub s3_prefix: Option<String>,
        /// TLS certificate chain (PEM); with --tls-key, serve HTTPS.
        #[arg(long, env = "PORTCULLIS_TLS_CERT")]
        pub tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, env = "PORTCULLIS_TLS_KEY")]
        pub tls_key: Option<PathBuf>,
        /// Largest manifest accepted, in bytes
        #[arg(long, env = "PORTCULLIS_MAX_MANIFEST_SIZE")]
        pub max_manifest_size: Option<usize> = 4194304,
        /// Hours after which an unfinished upload is removed
        #[arg(long, env = "PORTCULLIS_UPLOAD_EXPIRY_HOURS")]
        pub upload_expiry_hours: Option<u64> = 24,
        /// Lifetime of registry bearer tokens, in minutes
        #[arg(long, env = "PORTCULLIS_TOKEN_TTL_MINUTES")]
        pub token_ttl_minutes: Option<u64> = 30,
        /// Behind a reverse proxy: take the client address from X-Forwarded-For / X-Real-IP
        #[arg(long, env = "PORTCULLIS_TRUST_PROXY_HEADERS")]
        pub trust_proxy_headers: Option<bool> = false,
        /// Failed logins of one account from one client address within five minutes
        /// before that address is refused for it (429)
        #[arg(long, env = "PORTCULLIS_LOGIN_FAILURES_PER_ACCOUNT")]
        pub login_failures_per_account: Option<u32> = 10,
        /// Failed logins from one client address, any account, within five minutes before
        /// the address is refused (429)
        #[arg(long, env = "PORTCULLIS_LOGIN_FAILURES_PER_ADDRESS")]
        pub login_failures_per_address: Option<u32> = 50,
        /// Client networks never throttled by the login limits, comma-separated CIDRs
        /// (e.g. an administrators' network) [default: none].
        #[arg(long, env = "PORTCULLIS_LOGIN_EXEMPT_NETWORKS", value_delimiter = ',')]
        pub login_exempt_networks: Option<Vec<String>>,
        /// A bearer token that scrapers of /metrics must present [default: /metrics is
        /// open].
        #[arg(long, env = "PORTCULLIS_METRICS_TOKEN", hide_env_values = true)]
        pub metrics_token: Option<String>,
        /// Connections open at once; more are answered 503 and closed (lowered to fit the
        /// open-file limit)
        #[arg(long, env = "PORTCULLIS_MAX_CONNECTIONS")]
        pub max_connections: Option<usize> = 4096,
        /// Requests one client address may have in flight, downloads counted until their
        /// last byte; more are answered 429 (0: no limit)
        #[arg(long, env = "PORTCULLIS_MAX_REQUESTS_PER_CLIENT")]
        pub max_requests_per_client: Option<usize> = 256,
        /// Seconds a connection may take to send a request's headers, and may stay idle
        /// between requests
        #[arg(long, env = "PORTCULLIS_HEADER_TIMEOUT_SECONDS")]
        pub header_timeout_seconds: Option<u64> = 30,
        /// Seconds a request body may send nothing before the request fails
        #[arg(long, env = "PORTCULLIS_BODY_TIMEOUT_SECONDS")]
        pub body_timeout_seconds: Option<u64> = 60,
        /// Seconds a client may accept no byte of a response before the connection closes
        #[arg(long, env = "PORTCULLIS_SEND_TIMEOUT_SECONDS")]
        pub send_timeout_seconds: Option<u64> = 60,
        /// Let anyone create a user account through the Harbor API
        #[arg(long, env = "PORTCULLIS_SELF_REGISTRATION")]
        pub self_registration: Option<bool> = false,
        /// Days to keep audit log entries; 0 keeps them forever
        #[arg(long, env = "PORTCULLIS_AUDIT_RETENTION_DAYS")]
        pub audit_retention_days: Option<u32> = 365,
        /// Percent of a project's storage limit from which pushes raise QUOTA_WARNING
        #[arg(long, env = "PORTCULLIS_QUOTA_WARNING_PERCENT", value_parser = clap::value_parser!(u8).range(1..=100))]
        pub quota_warning_percent: Option<u8> = 85,
        /// Log as JSON lines instead of readable text
        #[arg(long, env = "PORTCULLIS_LOG_JSON")]
        pub log_json: Option<bool> = false,
        /// Attempts per webhook delivery before it is recorded as failed
        #[arg(long, env = "PORTCULLIS_WEBHOOK_MAX_ATTEMPTS")]
        pub webhook_max_attempts: Option<u32> = 3,
        /// Seconds one webhook attempt may take
        #[arg(long, env = "PORTCULLIS_WEBHOOK_TIMEOUT_SECONDS")]
        pub webhook_timeout_seconds: Option<u64> = 3,
        /// Milliseconds before the first webhook retry; each further retry waits twice as long
        #[arg(long, env = "PORTCULLIS_WEBHOOK_RETRY_DELAY_MS")]
        pub webhook_retry_delay_ms: Option<u64> = 5000,
        /// Events waiting for webhook dispatch at most; more are dropped and counted
        #[arg(long, env = "PORTCULLIS_WEBHOOK_BACKLOG")]
        pub webhook_backlog: Option<usize> = 10000,
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
        /// Scans this node runs at once
        #[arg(long, env = "PORTCULLIS_SCAN_WORKERS")]
        pub scan_workers: Option<usize> = 2,
        /// Jobs of a kind this node runs at once, as `kind=N`, comma-separated (kinds:
        /// scan, adapter-scan, webhook, rejudge, scan-all, cve-export, purge-audit,
        /// expire-uploads) [default: scan per --scan-workers, webhook 16, others 4].
        #[arg(long, env = "PORTCULLIS_JOB_CONCURRENCY", value_delimiter = ',')]
        #[serde(deserialize_with = "kind_limits_table")]
        pub job_concurrency: Option<Vec<String>>,
        /// Cache each layer's package inventory so that a new vulnerability database
        /// re-judges every image without reading layers
        #[arg(long, env = "PORTCULLIS_SCAN_LAYER_CACHE")]
        pub scan_layer_cache: Option<bool> = true,
        /// Base URL of OSV per-ecosystem archives to download the vulnerability database
        /// from on a schedule (e.g. https://osv-vulnerabilities.storage.googleapis.com).
        #[arg(long, env = "PORTCULLIS_VULNDB_UPDATE_URL")]
        pub vulndb_update_url: Option<String>,
        /// When to update the vulnerability database from that URL (cron, seconds first,
        /// UTC)
        #[arg(long, env = "PORTCULLIS_VULNDB_UPDATE_CRON")]
        pub vulndb_update_cron: Option<String> = "0 0 4 * * *",
        /// Memory all scans of this node may hold together, in MiB; a scan waits while
        /// others hold it, and an image needing more than all of it ends in error
        #[arg(long, env = "PORTCULLIS_SCAN_MEMORY_BUDGET_MB")]
        pub scan_memory_budget_mb: Option<u64> = 512,
    }
}

/// `job_concurrency` in the settings file is a table, `[job_concurrency]` with `kind = N`
/// lines; it is read as the flag's `kind=N` items.
fn kind_limits_table<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let table = std::collections::BTreeMap::<String, usize>::deserialize(deserializer)?;
    Ok(Some(
        table.into_iter().map(|(k, n)| format!("{k}={n}")).collect(),
    ))
}
