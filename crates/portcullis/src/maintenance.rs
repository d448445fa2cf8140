//! Periodic upkeep as scheduled jobs of the durable job runner: they are rows in the
//! metadata store, fire once per due time across all nodes, and survive restarts.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::Registry;
use portcullis_core::webhooks::WebhookWorker;
use portcullis_jobs::{
    Backoff, JobContext, JobError, Outcome, Runner, RunnerConfig, RunnerHandle, Worker,
};
use portcullis_meta::WEBHOOK_JOB_KIND;

/// Removes upload sessions untouched for longer than the configured expiry.
struct ExpireUploads {
    reg: Arc<Registry>,
    older_than: Duration,
}

impl Worker for ExpireUploads {
    async fn run(&self, _job: &JobContext) -> Result<Outcome, JobError> {
        let removed = self
            .reg
            .blobs
            .expire_uploads(self.older_than)
            .await
            .map_err(JobError::retry)?;
        if removed > 0 {
            tracing::info!(removed, "expired abandoned uploads");
        }
        Ok(Outcome::Done)
    }
}

/// Purges audit entries past the retention period (0 days keeps them forever).
struct PurgeAudit {
    reg: Arc<Registry>,
}

impl Worker for PurgeAudit {
    async fn run(&self, job: &JobContext) -> Result<Outcome, JobError> {
        // The schedule's parameters (set through the API) win over the startup setting.
        let payload = job.payload();
        let (hours, ops) = portcullis_core::purge::purge_parameters(payload);
        let hours = hours.unwrap_or(u64::from(self.reg.settings.audit_retention_days) * 24);
        // A scheduled run with no retention keeps everything; a run asked for with
        // retention 0 means "everything older than now".
        let asked = payload.get("trigger").and_then(|v| v.as_str()) == Some("Manual");
        if hours == 0 && !asked {
            return Ok(Outcome::Done);
        }
        let hours = i64::try_from(hours)
            .unwrap_or(i64::MAX / 3600)
            .min(i64::MAX / 3600);
        let before = time::OffsetDateTime::now_utc()
            .checked_sub(time::Duration::hours(hours))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let audit = self.reg.meta.audit();
        if portcullis_core::purge::purge_dry_run(payload) {
            let would = audit
                .count_purgeable(before, ops.as_deref())
                .await
                .map_err(JobError::retry)?;
            tracing::info!(would, "audit purge dry run");
            return Ok(Outcome::Done);
        }
        let removed = audit
            .purge_audit(before, ops.as_deref())
            .await
            .map_err(JobError::retry)?;
        if removed > 0 {
            tracing::info!(removed, "purged old audit entries");
        }
        Ok(Outcome::Done)
    }
}

/// Starts the runner with the upkeep workers and (re)writes their schedules. `config`
/// carries other kinds' limits; `more` registers their workers.
pub async fn start(
    reg: Arc<Registry>,
    upload_expiry: Duration,
    webhook_retry_delay: Duration,
    mut config: RunnerConfig,
    more: impl FnOnce(Runner) -> Runner,
) -> anyhow::Result<RunnerHandle> {
    // Webhook receivers come back quickly or not at all: short retries, capped at 5 minutes.
    config.backoff_per_kind.insert(
        WEBHOOK_JOB_KIND.into(),
        Backoff {
            base: webhook_retry_delay,
            max: Duration::from_secs(300),
            jitter: 0.2,
        },
    );
    config
        .concurrency
        .entry(WEBHOOK_JOB_KIND.into())
        .or_insert(16);
    let webhooks = WebhookWorker::new(reg.meta.clone(), reg.settings.webhooks.timeout)?;
    let runner = more(Runner::new(reg.meta.clone(), config))
        .register(WEBHOOK_JOB_KIND, webhooks)
        .register(
            "expire-uploads",
            ExpireUploads {
                reg: reg.clone(),
                older_than: upload_expiry,
            },
        )
        .register("purge-audit", PurgeAudit { reg: reg.clone() })
        .register(
            portcullis_core::scanners::adapter::ADAPTER_SCAN_JOB,
            portcullis_core::scanners::adapter::AdapterScanWorker::new(reg.scanners.clone()),
        )
        .start();
    // Cron with seconds first, as Harbor writes schedules: uploads hourly; the audit purge
    // daily at 03:00 UTC unless changed through the API.
    runner
        .set_schedule(
            "expire-uploads",
            "expire-uploads",
            serde_json::json!({}),
            "0 0 * * * *",
            true,
        )
        .await?;
    // The purge schedule may have been changed through the API: only create it.
    if reg.audit.purge_schedule().await?.is_none() {
        let default = portcullis_core::purge::default_schedule(reg.settings.audit_retention_days);
        reg.meta.schedules().put_schedule(&default).await?;
    }
    Ok(runner)
}
