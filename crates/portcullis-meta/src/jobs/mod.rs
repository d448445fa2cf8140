//! The durable job queue: jobs and cron schedules as rows, claimed under a lease.
//!
//! A job is claimed by one owner (a runner on one node) for a lease; the owner renews the
//! lease while it works and records the outcome. A job whose lease runs out (its node
//! died) is claimable again. Every transition names the owner, so a node that lost its
//! lease can no longer overwrite the work of the node that took the job over.
//!
//! Times are the calling node's clock: nodes sharing PostgreSQL are expected to keep
//! their clocks within a small fraction of a lease (NTP does).

mod model;
mod query;
mod queue;
mod rows;
mod schedules;

pub use model::{
    Enqueued, FireOutcome, Job, JobCount, JobId, JobQuery, JobState, LeaseRenewal, NewJob,
    NewSchedule, Schedule, ScheduleId, StopRequest,
};
