//! What a kind of job does: the [`Worker`] trait and what it returns.

use std::future::Future;
use std::pin::Pin;

use crate::JobContext;
use crate::outcome::{JobError, Outcome};

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
