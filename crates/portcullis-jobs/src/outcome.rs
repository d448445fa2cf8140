//! What a run of a job ends with: done, again later, or an error (retryable or not).

use std::time::Duration;

/// A finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The job's work is done: it becomes `succeeded`.
    Done,
    /// Not finished yet, and not a failure (an external scanner's report is not ready):
    /// run it again after `after`. The attempt does not count.
    Again {
        /// How long to wait before the next run.
        after: Duration,
    },
}

/// A failed run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth trying again (a network error, a busy database): retried with backoff until
    /// the job's attempts run out, then `failed` with this message.
    #[error("{0}")]
    Retry(String),
    /// Trying again would fail the same way (the artifact was deleted, the payload is
    /// malformed): the job becomes `failed` at once.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    /// A retryable error with `cause` as its message.
    pub fn retry(cause: impl std::fmt::Display) -> Self {
        JobError::Retry(cause.to_string())
    }

    /// A permanent error with `cause` as its message.
    pub fn permanent(cause: impl std::fmt::Display) -> Self {
        JobError::Permanent(cause.to_string())
    }
}
