//! The runner's error type.

/// Every way a [`crate::RunnerHandle`] call can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The metadata store failed (log the cause; never show it to clients).
    #[error(transparent)]
    Store(#[from] portcullis_meta::Error),
    /// A schedule's cron expression does not parse.
    #[error("invalid cron expression {expression:?}: {reason}")]
    InvalidCron {
        /// The expression as given.
        expression: String,
        /// What the parser objected to.
        reason: String,
    },
}

/// Shorthand for results of the runner.
pub type Result<T, E = Error> = std::result::Result<T, E>;
