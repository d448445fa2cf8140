//! `portcullis serve`: open the stores, bootstrap, serve until SIGINT/SIGTERM.

use std::time::Duration;

use anyhow::Context;
use portcullis_blob::{BlobStore, FsConfig};
use portcullis_core::auth::TokenService;
use portcullis_core::{Registry, Settings, setup};
use portcullis_meta::MetaStore;

use crate::config::{Config, Storage, vars};

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(vars::LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Bytes hyper buffers per HTTP/1 connection for reading and for a response waiting to
/// be written: past this it stops taking chunks from the body, so a download nobody
/// reads holds one chunk here and one read ahead (hyper's default, about 400 KiB, took
/// three small chunks).
const HTTP1_BUFFER: usize = 128 << 10;

pub async fn run(cfg: Config) -> anyhow::Result<()> {
    init_logging(cfg.settings.log_json);
    // The data directory holds the database, the token key and the blobs: the owner's.
    let mut data_dir = std::fs::DirBuilder::new();
    data_dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut data_dir, 0o700);
    data_dir
        .create(&cfg.settings.data_dir)
        .with_context(|| format!("creating {}", cfg.settings.data_dir.display()))?;
    let meta = MetaStore::connect(&cfg.database_url)
        .await
        .context("opening the metadata database")?;
    let blobs = match &cfg.storage {
        Storage::Filesystem(root) => BlobStore::open_fs(FsConfig { root: root.clone() }).await,
        Storage::S3(s3) => BlobStore::open_s3(s3.clone()).await,
    }
    .context("opening blob storage")?;
    let key = setup::token_key(&cfg.settings.data_dir).context("loading the token signing key")?;
    let admin_password = std::env::var(vars::ADMIN_PASSWORD).ok();
    setup::ensure_admin(&meta, admin_password.as_deref())
        .await
        .context("creating the admin user")?;
    let tokens = TokenService::new(
        &key,
        "harbor-registry",
        Duration::from_secs(cfg.settings.token_ttl_minutes * 60),
    );
    let settings = Settings {
        max_manifest_size: cfg.settings.max_manifest_size,
        external_url: cfg.external_url.clone(),
        trust_proxy_headers: cfg.settings.trust_proxy_headers,
        https: cfg.tls.is_some(),
        self_registration: cfg.settings.self_registration,
        audit_retention_days: cfg.settings.audit_retention_days,
        webhooks: portcullis_core::webhooks::WebhookSettings {
            max_attempts: cfg.settings.webhook_max_attempts,
            timeout: Duration::from_secs(cfg.settings.webhook_timeout_seconds),
            backlog: cfg.settings.webhook_backlog,
            ..Default::default()
        },
        admission: cfg.admission.clone(),
        trusted: match &cfg.settings.trusted_keys_dir {
            Some(dir) => portcullis_core::signatures::ConfiguredTrust::load_dir(dir)
                .with_context(|| format!("reading trusted keys from {}", dir.display()))?,
            None => Default::default(),
        },
        quota_warning_percent: cfg.settings.quota_warning_percent,
        login_failures_per_account: cfg.settings.login_failures_per_account,
        login_failures_per_address: cfg.settings.login_failures_per_address,
        login_exempt: cfg.login_exempt.clone(),
        metrics_token: cfg.settings.metrics_token.clone().filter(|t| !t.is_empty()),
        storage_name: match cfg.storage {
            Storage::Filesystem(_) => "filesystem".into(),
            Storage::S3(_) => "s3".into(),
        },
        scanner_adapter_api_key: cfg.scanner_adapter_api_key.clone(),
        vulndb_dir: Some(portcullis_vulndb::db_dir(&cfg.settings.data_dir)),
        ..Settings::default()
    };
    let scan = crate::scanning::setup(&meta, &blobs, &cfg);
    let reg = Registry::new(meta, blobs, tokens, settings, scan);
    let scanning = reg.scanning.clone();
    reg.scanners
        .ensure_builtin_scanner()
        .await
        .context("registering the built-in scanner")?;
    // Every durable subscriber is in place now: events left by a crash reach them all.
    let _outbox = reg.start_outbox();
    let mut runner_cfg = portcullis_jobs::RunnerConfig::default();
    runner_cfg.concurrency.insert(
        portcullis_core::scanning::SCAN_JOB.into(),
        cfg.settings.scan_workers,
    );
    runner_cfg.concurrency.extend(cfg.job_concurrency.clone());
    let jobs = crate::maintenance::start(
        reg.clone(),
        Duration::from_secs(cfg.settings.upload_expiry_hours * 3600),
        Duration::from_millis(cfg.settings.webhook_retry_delay_ms),
        runner_cfg,
        |runner| crate::scanning::register(runner, &reg, &scanning, &cfg),
    )
    .await
    .context("starting the job runner")?;
    let vulndb_watch = crate::scanning::start(&scanning, &jobs, &cfg)
        .await
        .context("starting scanning")?;
    let app = portcullis_api::app_with_limits(
        reg.clone(),
        portcullis_api::limits::HttpLimits {
            requests_per_client: cfg.settings.max_requests_per_client,
            body_timeout: Duration::from_secs(cfg.settings.body_timeout_seconds),
            trust_proxy_headers: cfg.settings.trust_proxy_headers,
        },
    );

    let listener = std::net::TcpListener::bind(&cfg.settings.listen)
        .with_context(|| format!("binding {}", cfg.settings.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    reg.scanners.set_listen_addr(addr, cfg.tls.is_some());
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        shutdown.graceful_shutdown(Some(Duration::from_secs(20)));
    });
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    eprintln!(
        "portcullis: listening on {scheme}://{addr} (database: {}, storage: {})",
        reg.meta.backend_name(),
        reg.settings.storage_name
    );
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let header_timeout = Duration::from_secs(cfg.settings.header_timeout_seconds);
    let guard = crate::listener::Guard::new(
        crate::listener::connections_that_fit(cfg.settings.max_connections),
        Duration::from_secs(cfg.settings.send_timeout_seconds),
        cfg.tls.is_none(),
    );
    let refused = |peer: Option<&std::net::SocketAddr>, e: &std::io::Error| {
        tracing::debug!(?peer, error = %e, "connection not served");
    };
    match &cfg.tls {
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .context("loading TLS certificate and key")?;
            let mut server = axum_server::from_tcp_rustls(listener, tls)?
                .map(|tls| tls.acceptor(guard))
                .first_request_timeout(header_timeout)
                .accept_error_handler(refused)
                .handle(handle);
            http1_limits(server.http_builder(), header_timeout);
            server.serve(service).await?;
        }
        None => {
            let mut server = axum_server::from_tcp(listener)?
                .acceptor(guard)
                .first_request_timeout(header_timeout)
                .accept_error_handler(refused)
                .handle(handle);
            http1_limits(server.http_builder(), header_timeout);
            server.serve(service).await?;
        }
    }
    vulndb_watch.cancel();
    jobs.shutdown(Duration::from_secs(10)).await;
    reg.flush().await;
    Ok(())
}

/// The header deadline and buffer bound of HTTP/1 connections, TLS or not.
fn http1_limits(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    header_timeout: Duration,
) {
    builder
        .http1()
        .header_read_timeout(header_timeout)
        .max_buf_size(HTTP1_BUFFER);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
