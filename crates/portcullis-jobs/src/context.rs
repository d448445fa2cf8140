//! What a worker sees of the job it runs.

use std::sync::Arc;

use portcullis_meta::{Job, JobId, MetaStore};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::outcome::JobError;

/// One run of one job, handed to [`crate::Worker::run`].
#[derive(Debug, Clone)]
pub struct JobContext {
    job: Job,
    store: MetaStore,
    owner: Arc<str>,
    cancel: CancellationToken,
}

impl JobContext {
    pub(crate) fn new(
        job: Job,
        store: MetaStore,
        owner: Arc<str>,
        cancel: CancellationToken,
    ) -> Self {
        JobContext {
            job,
            store,
            owner,
            cancel,
        }
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.job.id
    }

    /// The job's kind.
    pub fn kind(&self) -> &str {
        &self.job.kind
    }

    /// The job's input.
    pub fn payload(&self) -> &serde_json::Value {
        &self.job.payload
    }

    /// The input as `T`; a payload of the wrong shape is a permanent error.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.job.payload.clone())
            .map_err(|e| JobError::permanent(format!("malformed {} payload: {e}", self.job.kind)))
    }

    /// This run's number, from 1.
    pub fn attempt(&self) -> u32 {
        self.job.attempts
    }

    /// True when a retryable error now would fail the job for good.
    pub fn is_last_attempt(&self) -> bool {
        self.job.attempts >= self.job.max_attempts
    }

    /// The job as claimed.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// Cancelled when the job is asked to stop or the runner shuts down.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// True once the job should wind down.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the job should wind down.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// Records progress (0–100 and a short message) on the job's row, where the API
    /// shows it. When this runner no longer holds the job, cancels the run.
    pub async fn progress(&self, percent: u8, message: &str) -> Result<(), JobError> {
        let held = self
            .store
            .jobs()
            .set_job_progress(self.job.id, &self.owner, percent, message)
            .await
            .map_err(JobError::retry)?;
        if !held {
            self.cancel.cancel();
        }
        Ok(())
    }
}
