//! One run of one job: the worker beside its lease heartbeat, then the outcome recorded.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use futures::FutureExt;
use portcullis_meta::{Job, JobId};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::worker::DynWorker;
use crate::{JobContext, JobError, Outcome};

/// Why a run's token was cancelled.
pub(crate) const CANCEL_NONE: u8 = 0;
/// Someone asked the job to stop: the run ends `stopped`.
pub(crate) const CANCEL_STOP: u8 = 1;
/// The runner shuts down: the job is given back for another node.
pub(crate) const CANCEL_SHUTDOWN: u8 = 2;

/// A job this runner is running.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub kind: String,
    pub cancel: CancellationToken,
    pub reason: Arc<AtomicU8>,
}

impl Slot {
    pub fn new(kind: &str) -> Self {
        Slot {
            kind: kind.to_string(),
            cancel: CancellationToken::new(),
            reason: Arc::new(AtomicU8::new(CANCEL_NONE)),
        }
    }

    /// Cancels the run for `reason`, unless it was cancelled for another one first.
    pub fn cancel(&self, reason: u8) {
        let _ =
            self.reason
                .compare_exchange(CANCEL_NONE, reason, Ordering::SeqCst, Ordering::SeqCst);
        self.cancel.cancel();
    }
}

/// Frees the job's slot when its run ends, however it ends (also when aborted).
struct SlotGuard {
    shared: Arc<Shared>,
    id: JobId,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.shared.slots().remove(&self.id);
        self.shared.wake.notify_one();
    }
}

/// Runs `job` (already claimed and entered in the slots) to its recorded outcome.
pub(crate) async fn execute(shared: Arc<Shared>, worker: Arc<dyn DynWorker>, job: Job, slot: Slot) {
    let _guard = SlotGuard {
        shared: shared.clone(),
        id: job.id,
    };
    let ctx = JobContext::new(
        job.clone(),
        shared.store.clone(),
        shared.owner.clone(),
        slot.cancel.clone(),
    );
    let run = AssertUnwindSafe(worker.run_boxed(&ctx)).catch_unwind();
    let result = tokio::select! {
        r = run => r,
        () = heartbeat(&shared, job.id, &slot) => {
            // Another node holds the job now: drop the run and record nothing.
            tracing::warn!(job = %job.id, kind = %job.kind, "lease lost; run abandoned");
            return;
        }
    };
    let result = result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(JobError::Retry(format!("worker panicked: {what}")))
    });
    record(&shared, &job, result, slot.reason.load(Ordering::SeqCst)).await;
}

/// Renews the lease every heartbeat; cancels the run when a stop is requested. Completes
/// only when the lease is lost.
async fn heartbeat(shared: &Shared, id: JobId, slot: &Slot) {
    let config = &shared.config;
    loop {
        tokio::time::sleep(config.heartbeat).await;
        match shared
            .store
            .jobs()
            .renew_job_lease(id, &shared.owner, config.lease)
            .await
        {
            Ok(Some(renewal)) => {
                if renewal.stop_requested {
                    slot.cancel(CANCEL_STOP);
                }
            }
            Ok(None) => {
                slot.cancel.cancel();
                return;
            }
            // The lease still runs; the next beat tries again.
            Err(e) => tracing::warn!(job = %id, error = %e, "could not renew a job lease"),
        }
    }
}

async fn record(shared: &Shared, job: &Job, result: Result<Outcome, JobError>, reason: u8) {
    let store = &shared.store;
    let owner = &*shared.owner;
    let id = job.id;
    let written = match result {
        _ if reason == CANCEL_SHUTDOWN => store.jobs().release_job(id, owner).await,
        Ok(Outcome::Done) => store.jobs().complete_job(id, owner).await,
        Ok(Outcome::Again { after }) => {
            store
                .jobs()
                .reschedule_job(id, owner, OffsetDateTime::now_utc() + after)
                .await
        }
        _ if reason == CANCEL_STOP => store.jobs().mark_job_stopped(id, owner).await,
        Err(JobError::Permanent(message)) => {
            tracing::warn!(job = %id, kind = %job.kind, error = %message, "job failed");
            store.jobs().fail_job(id, owner, &message).await
        }
        Err(JobError::Retry(message)) if job.attempts >= job.max_attempts => {
            tracing::warn!(job = %id, kind = %job.kind, error = %message, "job failed on its last attempt");
            store.jobs().fail_job(id, owner, &message).await
        }
        Err(JobError::Retry(message)) => {
            let delay = shared.config.backoff_for(&job.kind).delay(job.attempts);
            tracing::info!(job = %id, kind = %job.kind, error = %message, ?delay, "job will be retried");
            store
                .jobs()
                .retry_job(id, owner, &message, OffsetDateTime::now_utc() + delay)
                .await
        }
    };
    match written {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(job = %id, "job was taken over before its outcome was recorded")
        }
        // The lease runs out and another runner repeats the job: at least once.
        Err(e) => tracing::error!(job = %id, error = %e, "could not record a job's outcome"),
    }
}
