//! Job and schedule rows as the database returns them.

use crate::dbtime::DbTime;
use crate::error::{Result, corrupt};
use crate::jobs::model::{Job, JobId, Schedule, ScheduleId};

pub(crate) const JOB_COLUMNS: &str = "id, kind, payload, state, attempts, max_attempts, \
     next_run_at, lease_owner, lease_deadline, stop_requested, progress_percent, \
     progress_message, last_error, dedup_key, created_at, updated_at, finished_at";

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: i64,
    kind: String,
    payload: String,
    state: String,
    attempts: i64,
    max_attempts: i64,
    next_run_at: DbTime,
    lease_owner: Option<String>,
    lease_deadline: Option<DbTime>,
    stop_requested: bool,
    progress_percent: i64,
    progress_message: String,
    last_error: Option<String>,
    dedup_key: Option<String>,
    created_at: DbTime,
    updated_at: DbTime,
    finished_at: Option<DbTime>,
}

impl TryFrom<JobRow> for Job {
    type Error = crate::Error;

    fn try_from(r: JobRow) -> Result<Self> {
        Ok(Job {
            id: JobId(r.id),
            payload: serde_json::from_str(&r.payload)
                .map_err(|_| corrupt("payload", &r.payload))?,
            state: r
                .state
                .parse()
                .map_err(|_| corrupt("job state", &r.state))?,
            kind: r.kind,
            attempts: to_u32(r.attempts),
            max_attempts: to_u32(r.max_attempts),
            next_run_at: r.next_run_at.0,
            lease_owner: r.lease_owner,
            lease_deadline: r.lease_deadline.map(|t| t.0),
            stop_requested: r.stop_requested,
            progress_percent: r.progress_percent.clamp(0, 100) as u8,
            progress_message: r.progress_message,
            last_error: r.last_error,
            dedup_key: r.dedup_key,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
            finished_at: r.finished_at.map(|t| t.0),
        })
    }
}

/// Converts rows, sorted by id: `UPDATE … RETURNING` gives no order.
pub(crate) fn jobs(rows: Vec<JobRow>) -> Result<Vec<Job>> {
    let mut jobs = rows
        .into_iter()
        .map(Job::try_from)
        .collect::<Result<Vec<_>>>()?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

pub(crate) const SCHEDULE_COLUMNS: &str = "id, name, kind, payload, cron, max_attempts, \
     enabled, next_run_at, last_run_at, last_job_id, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ScheduleRow {
    id: i64,
    name: String,
    kind: String,
    payload: String,
    cron: String,
    max_attempts: i64,
    enabled: bool,
    next_run_at: DbTime,
    last_run_at: Option<DbTime>,
    last_job_id: Option<i64>,
    created_at: DbTime,
    updated_at: DbTime,
}

impl TryFrom<ScheduleRow> for Schedule {
    type Error = crate::Error;

    fn try_from(r: ScheduleRow) -> Result<Self> {
        Ok(Schedule {
            id: ScheduleId(r.id),
            payload: serde_json::from_str(&r.payload)
                .map_err(|_| corrupt("payload", &r.payload))?,
            name: r.name,
            kind: r.kind,
            cron: r.cron,
            max_attempts: to_u32(r.max_attempts),
            enabled: r.enabled,
            next_run_at: r.next_run_at.0,
            last_run_at: r.last_run_at.map(|t| t.0),
            last_job_id: r.last_job_id.map(JobId),
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

/// Counters are never negative or huge in the database; out-of-range values saturate.
pub(crate) fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}
