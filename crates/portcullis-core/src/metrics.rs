//! Prometheus metrics (`GET /metrics`): job queue depth per kind and state, scan
//! durations and scan outcomes.

use std::sync::LazyLock;

use portcullis_meta::{MetaStore, ReportStatus};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

struct Metrics {
    registry: Registry,
    jobs: IntGaugeVec,
    scan_seconds: HistogramVec,
    scans: IntCounterVec,
    scan_failures: IntCounter,
    scans_queued: IntCounter,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new();
    let jobs = IntGaugeVec::new(
        Opts::new(
            "portcullis_jobs",
            "Jobs in the durable queue, by kind and state",
        ),
        &["kind", "state"],
    )?;
    let scan_seconds = HistogramVec::new(
        HistogramOpts::new(
            "portcullis_scan_duration_seconds",
            "Time from start to outcome of a scan",
        )
        .buckets(vec![
            0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0,
        ]),
        &["status"],
    )?;
    let scans = IntCounterVec::new(
        Opts::new("portcullis_scans_total", "Scans ended, by outcome"),
        &["status"],
    )?;
    let scan_failures = IntCounter::new(
        "portcullis_scan_failures_total",
        "Scans that ended in Error",
    )?;
    let scans_queued = IntCounter::new("portcullis_scans_queued_total", "Scans queued")?;
    registry.register(Box::new(jobs.clone()))?;
    registry.register(Box::new(scan_seconds.clone()))?;
    registry.register(Box::new(scans.clone()))?;
    registry.register(Box::new(scan_failures.clone()))?;
    registry.register(Box::new(scans_queued.clone()))?;
    Ok(Metrics {
        registry,
        jobs,
        scan_seconds,
        scans,
        scan_failures,
        scans_queued,
    })
}

static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| {
    build()
        .map_err(|e| tracing::error!(error = %e, "metrics unavailable"))
        .ok()
});

/// A scan was queued.
pub fn scan_queued() {
    if let Some(m) = METRICS.as_ref() {
        m.scans_queued.inc();
    }
}

/// A scan ended with `status` after `seconds`.
pub fn scan_finished(status: ReportStatus, seconds: f64) {
    if let Some(m) = METRICS.as_ref() {
        m.scan_seconds
            .with_label_values(&[status.as_str()])
            .observe(seconds);
        m.scans.with_label_values(&[status.as_str()]).inc();
        if status == ReportStatus::Error {
            m.scan_failures.inc();
        }
    }
}

/// The text exposition of every metric, with queue depths read from the store now.
pub async fn render(meta: &MetaStore) -> crate::Result<String> {
    let Some(m) = METRICS.as_ref() else {
        return Ok(String::new());
    };
    let counts = meta.jobs().job_counts().await?;
    m.jobs.reset();
    for c in counts {
        m.jobs
            .with_label_values(&[c.kind.as_str(), c.state.as_str()])
            .set(i64::try_from(c.count).unwrap_or(i64::MAX));
    }
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&m.registry.gather(), &mut out)
        .map_err(crate::Error::internal)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
