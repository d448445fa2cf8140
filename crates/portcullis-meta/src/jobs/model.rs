//! The records of the job queue.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A job's id (Harbor's execution id in the job APIs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A schedule's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScheduleId(pub i64);

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for `next_run_at`, then for a runner to claim it.
    Pending,
    /// Claimed by `lease_owner` until `lease_deadline`.
    Running,
    /// Finished its work.
    Succeeded,
    /// Gave up: a permanent error, or its attempts ran out.
    Failed,
    /// Stopped on request before it finished.
    Stopped,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [JobState; 5] = [
        JobState::Pending,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Stopped,
    ];

    /// The name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Stopped => "stopped",
        }
    }

    /// True for the states a job never leaves.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Stopped
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown job state {s:?}"))
    }
}

/// What [`crate::Jobs::enqueue_job`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Which worker runs it (`"scan"`, `"webhook"`, …).
    pub kind: String,
    /// The worker's input.
    pub payload: serde_json::Value,
    /// Runs before the job fails for good (at least 1).
    pub max_attempts: u32,
    /// Not before this time; `None` means now.
    pub run_at: Option<OffsetDateTime>,
    /// While a job of the same kind with this key is pending or running, enqueueing
    /// another returns that one instead.
    pub dedup_key: Option<String>,
}

impl NewJob {
    /// Attempts a job gets unless told otherwise.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

    /// A job to run now, with the default attempts and no dedup key.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        NewJob {
            kind: kind.into(),
            payload,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            run_at: None,
            dedup_key: None,
        }
    }

    /// Sets the dedup key.
    pub fn dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }

    /// Sets the number of attempts.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Delays the first run until `at`.
    pub fn run_at(mut self, at: OffsetDateTime) -> Self {
        self.run_at = Some(at);
        self
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    /// Runs started so far, including the current one.
    pub attempts: u32,
    pub max_attempts: u32,
    /// When a pending job becomes claimable.
    pub next_run_at: OffsetDateTime,
    /// The runner holding a running job.
    pub lease_owner: Option<String>,
    /// When a running job's lease runs out unless renewed.
    pub lease_deadline: Option<OffsetDateTime>,
    /// Someone asked the running job to stop.
    pub stop_requested: bool,
    /// 0–100, as last reported by the worker.
    pub progress_percent: u8,
    pub progress_message: String,
    /// Why the last run failed.
    pub last_error: Option<String>,
    pub dedup_key: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// The result of [`crate::Jobs::enqueue_job`].
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The new job, or the unfinished one already holding the dedup key.
    pub job: Job,
    /// False when an existing job was returned.
    pub created: bool,
}

/// What [`crate::Jobs::renew_job_lease`] learns about a job it still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRenewal {
    /// The job was asked to stop: the worker should wind down.
    pub stop_requested: bool,
}

/// The result of [`crate::Jobs::request_job_stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRequest {
    /// The job had not started: it is now `stopped`.
    Stopped,
    /// The job is running: its runner will cancel it at its next lease renewal.
    Requested,
    /// The job had already finished in this state.
    AlreadyFinished(JobState),
}

/// Filters and paging for [`crate::Jobs::list_jobs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobQuery {
    pub kind: Option<String>,
    pub state: Option<JobState>,
    /// 1-based.
    pub page: u64,
    pub page_size: u64,
}

/// How many jobs of one kind are in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobCount {
    pub kind: String,
    pub state: JobState,
    pub count: u64,
}

/// A cron schedule that turns into a job each time it comes due.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    pub id: ScheduleId,
    /// Unique; names the schedule in the API (`"scan-all"`, `"gc"`).
    pub name: String,
    pub kind: String,
    pub payload: serde_json::Value,
    /// The cron expression, kept as given; the runner computes the times.
    pub cron: String,
    pub max_attempts: u32,
    pub enabled: bool,
    pub next_run_at: OffsetDateTime,
    pub last_run_at: Option<OffsetDateTime>,
    pub last_job_id: Option<JobId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What [`crate::Schedules::put_schedule`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSchedule {
    pub name: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub cron: String,
    pub max_attempts: u32,
    pub enabled: bool,
    /// The first time the schedule comes due (computed from `cron` by the caller).
    pub next_run_at: OffsetDateTime,
}

/// The result of [`crate::Schedules::fire_schedule`].
#[derive(Debug, Clone, PartialEq)]
pub enum FireOutcome {
    /// Another node fired it first, or it changed meanwhile: nothing was done.
    NotDue,
    /// The schedule's job was enqueued and the schedule moved to its next time.
    Enqueued(Job),
    /// The job of its previous firing is still unfinished; the schedule moved on
    /// without queueing a second one.
    StillRunning(Job),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        assert!("done".parse::<JobState>().is_err());
        let finished: Vec<_> = JobState::ALL
            .into_iter()
            .filter(|s| s.is_finished())
            .collect();
        assert_eq!(
            finished,
            [JobState::Succeeded, JobState::Failed, JobState::Stopped]
        );
    }

    #[test]
    fn new_job_builder_sets_fields() {
        let at = time::macros::datetime!(2026-01-01 00:00 UTC);
        let job = NewJob::new("scan", serde_json::json!({"a": 1}))
            .dedup_key("artifact:1")
            .max_attempts(5)
            .run_at(at);
        assert_eq!(job.kind, "scan");
        assert_eq!(job.dedup_key.as_deref(), Some("artifact:1"));
        assert_eq!(job.max_attempts, 5);
        assert_eq!(job.run_at, Some(at));
    }
}
