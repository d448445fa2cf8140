//! What a kind of job does: the [`Worker`] trait and what it returns.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::JobContext;

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

impl From<portcullis_meta::Error> for JobError {
    fn from(e: portcullis_meta::Error) -> Self {
        match e {
            portcullis_meta::Error::NotFound | portcullis_meta::Error::Invalid(_) => {
                JobError::permanent(e)
            }
            _ => JobError::retry(e),
        }
    }
}

/// Runs jobs of one kind. One worker value serves every job of its kind, possibly
/// several at once.
///
/// Cancellation: when the job is asked to stop, or the runner shuts down, the context's
/// [`JobContext::cancelled`] completes; the worker should return soon after (any result:
/// the runner records the stop). A worker that does not return is dropped at the
/// shutdown deadline, or as soon as its lease is found to belong to another node; it
/// must therefore leave nothing half-written that a retry cannot handle.
pub trait Worker: Send + Sync + 'static {
    /// Does one run of `job`.
    fn run(&self, job: &JobContext) -> impl Future<Output = Result<Outcome, JobError>> + Send;
}

/// The boxed future of a worker's run.
pub(crate) type RunFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Outcome, JobError>> + Send + 'a>>;

/// [`Worker`] in a form that can sit behind `dyn`.
pub(crate) trait DynWorker: Send + Sync + 'static {
    fn run_boxed<'a>(&'a self, job: &'a JobContext) -> RunFuture<'a>;
}

impl<W: Worker> DynWorker for W {
    fn run_boxed<'a>(&'a self, job: &'a JobContext) -> RunFuture<'a> {
        Box::pin(self.run(job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_retry_or_permanent() {
        assert!(matches!(
            JobError::from(portcullis_meta::Error::NotFound),
            JobError::Permanent(_)
        ));
        assert!(matches!(
            JobError::from(portcullis_meta::Error::Conflict("x".into())),
            JobError::Retry(_)
        ));
        assert_eq!(JobError::retry("boom").to_string(), "boom");
    }
}
