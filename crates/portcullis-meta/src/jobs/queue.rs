//! Enqueueing, claiming, lease renewal and the transitions a runner records.
//!
//! Cancellation: each method is one statement (or one transaction); a dropped call
//! changes nothing or everything it meant to.

use std::time::Duration;

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::jobs::model::{Enqueued, Job, JobId, JobState, LeaseRenewal, NewJob, StopRequest};
use crate::jobs::rows::{JOB_COLUMNS, JobRow, jobs};
use crate::sql::with_pool;
use crate::{Backend, Error, Jobs, Result};

/// Inserts a job unless an unfinished one holds its dedup key (then inserts nothing).
pub(crate) const INSERT_JOB: &str = "INSERT INTO jobs (kind, payload, state, attempts, \
     max_attempts, next_run_at, dedup_key, created_at, updated_at) \
     VALUES ($1, $2, 'pending', 0, $3, $4, $5, $6, $6) \
     ON CONFLICT (kind, dedup_key) WHERE dedup_key IS NOT NULL AND state IN ('pending', 'running') \
     DO NOTHING";

/// The unfinished job of a kind holding a dedup key.
pub(crate) const SELECT_DEDUP: &str = "FROM jobs WHERE kind = $1 AND dedup_key = $2 \
     AND state IN ('pending', 'running')";

/// Set when a job leaves `running` for another state.
const CLEAR_LEASE: &str = "lease_owner = NULL, lease_deadline = NULL";

/// A job going back to `pending` that was asked to stop meanwhile stops instead.
const BACK_TO_PENDING: &str = "state = CASE WHEN stop_requested THEN 'stopped' ELSE 'pending' END, \
     finished_at = CASE WHEN stop_requested THEN $3 ELSE NULL END";

/// Checks what every enqueue path needs, returning the payload as stored.
pub(crate) fn validate(new: &NewJob) -> Result<String> {
    if new.kind.is_empty() {
        return Err(Error::Invalid("job kind must not be empty".into()));
    }
    if new.max_attempts == 0 {
        return Err(Error::Invalid("max_attempts must be at least 1".into()));
    }
    serde_json::to_string(&new.payload).map_err(|e| Error::Invalid(e.to_string()))
}

fn lease_end(from: OffsetDateTime, lease: Duration) -> Result<DbTime> {
    let lease =
        time::Duration::try_from(lease).map_err(|_| Error::Invalid("lease is too long".into()))?;
    Ok(DbTime::from(from + lease))
}

impl Jobs<'_> {
    /// Adds a pending job. When `dedup_key` is set and a pending or running job of the same
    /// kind holds it, returns that job instead (`created == false`).
    pub async fn enqueue_job(self, new: &NewJob) -> Result<Enqueued> {
        let payload = validate(new)?;
        let t = DbTime(now());
        let run_at = new.run_at.map(DbTime::from).unwrap_or(t);
        let insert = format!("{INSERT_JOB} RETURNING {JOB_COLUMNS}");
        let existing = format!("SELECT {JOB_COLUMNS} {SELECT_DEDUP}");
        // The job holding the key may finish between the insert and the select; the
        // next insert then succeeds. Three rounds cover any realistic interleaving.
        for _ in 0..3 {
            let row = with_pool!(self, write, |pool| {
                sqlx::query_as::<_, JobRow>(AssertSqlSafe(insert.clone()))
                    .bind(&new.kind)
                    .bind(&payload)
                    .bind(i64::from(new.max_attempts))
                    .bind(run_at)
                    .bind(&new.dedup_key)
                    .bind(t)
                    .fetch_optional(pool)
                    .await?
            });
            if let Some(row) = row {
                return Ok(Enqueued {
                    job: row.try_into()?,
                    created: true,
                });
            }
            let row = with_pool!(self, write, |pool| {
                sqlx::query_as::<_, JobRow>(AssertSqlSafe(existing.clone()))
                    .bind(&new.kind)
                    .bind(&new.dedup_key)
                    .fetch_optional(pool)
                    .await?
            });
            if let Some(row) = row {
                return Ok(Enqueued {
                    job: row.try_into()?,
                    created: false,
                });
            }
        }
        Err(Error::Conflict(format!(
            "dedup key of a {} job keeps changing hands",
            new.kind
        )))
    }

    /// Claims up to `limit` jobs of `kind` for `owner` until now + `lease`: pending jobs
    /// that are due, and running jobs whose lease ran out (their runner died). Each claim
    /// counts an attempt. Jobs claimed by another runner at the same moment are skipped,
    /// never waited for.
    ///
    /// First finishes the expired jobs that may not run again: those asked to stop
    /// become `stopped`, those on their last attempt `failed`.
    pub async fn claim_jobs(
        self,
        kind: &str,
        owner: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<Job>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let t = now();
        let deadline = lease_end(t, lease)?;
        let t = DbTime(t);
        let reap = format!(
            "UPDATE jobs SET \
             state = CASE WHEN stop_requested THEN 'stopped' ELSE 'failed' END, \
             last_error = CASE WHEN stop_requested THEN last_error \
               ELSE 'lease expired during the last attempt' END, \
             {CLEAR_LEASE}, finished_at = $2, updated_at = $2 \
             WHERE kind = $1 AND state = 'running' AND lease_deadline < $2 \
             AND (stop_requested OR attempts >= max_attempts)"
        );
        with_pool!(self, write, |pool| {
            sqlx::query(AssertSqlSafe(reap))
                .bind(kind)
                .bind(t)
                .execute(pool)
                .await?
                .rows_affected()
        });
        // PostgreSQL: concurrent claimers skip each other's locked rows. SQLite: the
        // single writer connection runs claims one at a time.
        let lock = match self.meta.backend {
            Backend::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite { .. } => "",
        };
        let claim = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $2, \
             lease_deadline = $3, updated_at = $4, progress_percent = 0, progress_message = '' \
             WHERE id IN (SELECT id FROM jobs WHERE kind = $1 AND \
               ((state = 'pending' AND next_run_at <= $4) \
                OR (state = 'running' AND lease_deadline < $4)) \
               ORDER BY next_run_at, id LIMIT $5 {lock}) \
             RETURNING {JOB_COLUMNS}"
        );
        let rows = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, JobRow>(AssertSqlSafe(claim))
                .bind(kind)
                .bind(owner)
                .bind(deadline)
                .bind(t)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        jobs(rows)
    }

    /// Extends `owner`'s lease on a running job to now + `lease`. `None` when the owner no
    /// longer holds the job (its lease ran out and another runner took it, or it finished):
    /// the owner must then abandon its work without recording anything.
    pub async fn renew_job_lease(
        self,
        id: JobId,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<LeaseRenewal>> {
        let t = now();
        let deadline = lease_end(t, lease)?;
        let stop = with_pool!(self, write, |pool| {
            sqlx::query_scalar::<_, bool>(
                "UPDATE jobs SET lease_deadline = $3, updated_at = $4 \
                 WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
                 RETURNING stop_requested",
            )
            .bind(id.0)
            .bind(owner)
            .bind(deadline)
            .bind(DbTime(t))
            .fetch_optional(pool)
            .await?
        });
        Ok(stop.map(|stop_requested| LeaseRenewal { stop_requested }))
    }

    /// Records a running job's progress (clamped to 0–100). False when `owner` no longer
    /// holds the job.
    pub async fn set_job_progress(
        self,
        id: JobId,
        owner: &str,
        percent: u8,
        message: &str,
    ) -> Result<bool> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE jobs SET progress_percent = $3, progress_message = $4, updated_at = $5 \
                 WHERE id = $1 AND state = 'running' AND lease_owner = $2",
            )
            .bind(id.0)
            .bind(owner)
            .bind(i64::from(percent.min(100)))
            .bind(message)
            .bind(DbTime(now()))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Marks `owner`'s running job `succeeded`. False when `owner` no longer holds it.
    pub async fn complete_job(self, id: JobId, owner: &str) -> Result<bool> {
        let set = "state = 'succeeded', progress_percent = 100, finished_at = $3";
        self.transition(id, owner, set, None, None).await
    }

    /// Marks `owner`'s running job `failed` for good with `error`.
    pub async fn fail_job(self, id: JobId, owner: &str, error: &str) -> Result<bool> {
        let set = "state = 'failed', finished_at = $3";
        self.transition(id, owner, set, Some(error), None).await
    }

    /// Marks `owner`'s running job `stopped` (it saw its stop request).
    pub async fn mark_job_stopped(self, id: JobId, owner: &str) -> Result<bool> {
        let set = "state = 'stopped', finished_at = $3";
        self.transition(id, owner, set, None, None).await
    }

    /// Sends `owner`'s running job back to `pending` until `run_at` after a failed
    /// attempt, recording `error`. The attempt counts toward `max_attempts`.
    pub async fn retry_job(
        self,
        id: JobId,
        owner: &str,
        error: &str,
        run_at: OffsetDateTime,
    ) -> Result<bool> {
        self.transition(id, owner, BACK_TO_PENDING, Some(error), Some(run_at))
            .await
    }

    /// Sends `owner`'s running job back to `pending` until `run_at` because the worker
    /// asked to be run again later; the attempt does not count.
    pub async fn reschedule_job(
        self,
        id: JobId,
        owner: &str,
        run_at: OffsetDateTime,
    ) -> Result<bool> {
        let set = format!("{BACK_TO_PENDING}, attempts = attempts - 1");
        self.transition(id, owner, &set, None, Some(run_at)).await
    }

    /// Gives `owner`'s running job back at once without counting the attempt (graceful
    /// shutdown), so that another runner can claim it immediately.
    pub async fn release_job(self, id: JobId, owner: &str) -> Result<bool> {
        let set = format!("{BACK_TO_PENDING}, attempts = attempts - 1");
        self.transition(id, owner, &set, None, Some(now())).await
    }

    /// Runs `UPDATE jobs SET {set}` on `owner`'s running job (`$3` is now), clearing the
    /// lease and replacing `last_error` and `next_run_at` when given.
    async fn transition(
        self,
        id: JobId,
        owner: &str,
        set: &str,
        error: Option<&str>,
        run_at: Option<OffsetDateTime>,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE jobs SET {set}, last_error = COALESCE($4, last_error), \
             next_run_at = COALESCE($5, next_run_at), {CLEAR_LEASE}, updated_at = $3 \
             WHERE id = $1 AND state = 'running' AND lease_owner = $2"
        );
        let done = with_pool!(self, write, |pool| {
            sqlx::query(AssertSqlSafe(sql))
                .bind(id.0)
                .bind(owner)
                .bind(DbTime(now()))
                .bind(error)
                .bind(run_at.map(DbTime::from))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Asks a job to stop: a pending job stops at once; a running one is flagged, and its
    /// runner cancels it at its next lease renewal. [`Error::NotFound`] for an unknown id.
    pub async fn request_job_stop(self, id: JobId) -> Result<StopRequest> {
        // A job can move between pending and running while we look; each round either
        // wins one of the two updates or sees a finished job, so a few rounds suffice.
        for _ in 0..5 {
            let t = DbTime(now());
            let stopped = with_pool!(self, write, |pool| {
                sqlx::query(
                    "UPDATE jobs SET state = 'stopped', finished_at = $2, updated_at = $2 \
                     WHERE id = $1 AND state = 'pending'",
                )
                .bind(id.0)
                .bind(t)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if stopped == 1 {
                return Ok(StopRequest::Stopped);
            }
            let flagged = with_pool!(self, write, |pool| {
                sqlx::query(
                    "UPDATE jobs SET stop_requested = TRUE, updated_at = $2 \
                     WHERE id = $1 AND state = 'running'",
                )
                .bind(id.0)
                .bind(t)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if flagged == 1 {
                return Ok(StopRequest::Requested);
            }
            let state = with_pool!(self, write, |pool| {
                sqlx::query_scalar::<_, String>("SELECT state FROM jobs WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(pool)
                    .await?
            });
            let Some(state) = state else {
                return Err(Error::NotFound);
            };
            let state: JobState = state
                .parse()
                .map_err(|_| crate::error::corrupt("job state", &state))?;
            if state.is_finished() {
                return Ok(StopRequest::AlreadyFinished(state));
            }
        }
        Err(Error::Conflict(format!("job {id} keeps changing state")))
    }
}
