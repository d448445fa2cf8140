//! The durable job runner: scanning, webhook delivery, replication, retention and GC all
//! run as jobs.
//!
//! Jobs and cron schedules are rows in the [`MetaStore`](portcullis_meta::MetaStore);
//! nothing lives only in memory. A [`Runner`] claims due jobs of the kinds it has a
//! [`Worker`] for, under a lease it renews while the worker runs. A node that dies stops
//! renewing, and once the lease runs out another node's runner takes the job up again.
//!
//! A worker does one unit of work and returns an [`Outcome`] or a [`JobError`]; the
//! runner owns retries (exponential backoff with jitter, up to the job's attempts),
//! stop requests, progress, concurrency per kind and shutdown.

mod config;
mod context;
mod cron;
mod error;
mod outcome;
mod runner;
mod worker;

pub use config::{Backoff, RunnerConfig};
pub use context::JobContext;
pub use cron::{next_run_after, validate_cron};
pub use error::{Error, Result};
pub use outcome::{JobError, Outcome};
pub use runner::{Runner, RunnerHandle, ShutdownReport};
pub use worker::Worker;

pub use portcullis_meta::{
    Enqueued, Job, JobCount, JobId, JobQuery, JobState, NewJob, Schedule, StopRequest,
};
pub use tokio_util::sync::CancellationToken;
