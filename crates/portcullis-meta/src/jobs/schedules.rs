//! Cron schedules: rows that the runner turns into jobs when they come due.
//!
//! The store keeps the expression as text and never parses it: the runner computes each
//! next time and hands it to [`Schedules::fire_schedule`], which advances the schedule
//! only if nobody else did first, so a schedule fires once per due time whatever the
//! number of nodes.

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::{DbTime, now};
use crate::jobs::model::{FireOutcome, Job, NewJob, NewSchedule, Schedule};
use crate::jobs::queue::{INSERT_JOB, SELECT_DEDUP, validate};
use crate::jobs::rows::{JOB_COLUMNS, JobRow, SCHEDULE_COLUMNS, ScheduleRow};
use crate::sql::{in_tx, with_pool};
use crate::{Error, Result, Schedules};

impl Schedules<'_> {
    /// Creates the schedule named `new.name`, or replaces every field of the existing one.
    pub async fn put_schedule(self, new: &NewSchedule) -> Result<Schedule> {
        if new.name.is_empty() || new.cron.trim().is_empty() {
            return Err(Error::Invalid(
                "a schedule needs a name and a cron expression".into(),
            ));
        }
        let payload = validate(&NewJob {
            kind: new.kind.clone(),
            payload: new.payload.clone(),
            max_attempts: new.max_attempts,
            run_at: None,
            dedup_key: None,
        })?;
        let sql = format!(
            "INSERT INTO job_schedules (name, kind, payload, cron, max_attempts, enabled, \
             next_run_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, payload = excluded.payload, \
             cron = excluded.cron, max_attempts = excluded.max_attempts, \
             enabled = excluded.enabled, next_run_at = excluded.next_run_at, \
             updated_at = excluded.updated_at \
             RETURNING {SCHEDULE_COLUMNS}"
        );
        let row = with_pool!(self, write, |pool| {
            sqlx::query_as::<_, ScheduleRow>(AssertSqlSafe(sql))
                .bind(&new.name)
                .bind(&new.kind)
                .bind(&payload)
                .bind(&new.cron)
                .bind(i64::from(new.max_attempts))
                .bind(new.enabled)
                .bind(DbTime::from(new.next_run_at))
                .bind(DbTime(now()))
                .fetch_one(pool)
                .await?
        });
        row.try_into()
    }

    /// The schedule with this name.
    pub async fn get_schedule(self, name: &str) -> Result<Option<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM job_schedules WHERE name = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ScheduleRow>(AssertSqlSafe(sql))
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        row.map(Schedule::try_from).transpose()
    }

    /// Every schedule, by name.
    pub async fn list_schedules(self) -> Result<Vec<Schedule>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM job_schedules ORDER BY name");
        let rows = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ScheduleRow>(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Schedule::try_from).collect()
    }

    /// Deletes the schedule with this name; false when there was none. Jobs it already
    /// queued are left alone.
    pub async fn delete_schedule(self, name: &str) -> Result<bool> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM job_schedules WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Enabled schedules due now, earliest first, at most `limit`.
    pub async fn due_schedules(self, limit: u32) -> Result<Vec<Schedule>> {
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM job_schedules WHERE enabled AND next_run_at <= $1 \
             ORDER BY next_run_at, id LIMIT $2"
        );
        let rows = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, ScheduleRow>(AssertSqlSafe(sql))
                .bind(DbTime(now()))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Schedule::try_from).collect()
    }

    /// Fires a due schedule read by [`Schedules::due_schedules`]: in one transaction, moves
    /// it to `next_run_at` and enqueues its job, unless the schedule no longer has the
    /// due time `schedule.next_run_at` (another node fired it, or it was edited), in
    /// which case nothing happens.
    ///
    /// The job carries the dedup key `schedule:<name>`, so a run still going when the
    /// next one comes due is not doubled.
    pub async fn fire_schedule(
        self,
        schedule: &Schedule,
        next_run_at: OffsetDateTime,
    ) -> Result<FireOutcome> {
        let t = DbTime(now());
        let payload =
            serde_json::to_string(&schedule.payload).map_err(|e| Error::Invalid(e.to_string()))?;
        let dedup = format!("schedule:{}", schedule.name);
        let advance = "UPDATE job_schedules SET next_run_at = $3, last_run_at = $4, \
             updated_at = $4 WHERE id = $1 AND next_run_at = $2 AND enabled \
             AND next_run_at <= $4";
        let insert = format!("{INSERT_JOB} RETURNING {JOB_COLUMNS}");
        let existing = format!("SELECT {JOB_COLUMNS} {SELECT_DEDUP}");
        let outcome: FireOutcome = in_tx!(self, |tx| {
            let advanced = sqlx::query(advance)
                .bind(schedule.id.0)
                .bind(DbTime::from(schedule.next_run_at))
                .bind(DbTime::from(next_run_at))
                .bind(t)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if advanced == 0 {
                FireOutcome::NotDue
            } else {
                let row = sqlx::query_as::<_, JobRow>(AssertSqlSafe(insert))
                    .bind(&schedule.kind)
                    .bind(&payload)
                    .bind(i64::from(schedule.max_attempts.max(1)))
                    .bind(t)
                    .bind(&dedup)
                    .bind(t)
                    .fetch_optional(&mut *tx)
                    .await?;
                match row {
                    Some(row) => {
                        let job = Job::try_from(row)?;
                        sqlx::query("UPDATE job_schedules SET last_job_id = $2 WHERE id = $1")
                            .bind(schedule.id.0)
                            .bind(job.id.0)
                            .execute(&mut *tx)
                            .await?;
                        FireOutcome::Enqueued(job)
                    }
                    None => {
                        let row = sqlx::query_as::<_, JobRow>(AssertSqlSafe(existing))
                            .bind(&schedule.kind)
                            .bind(&dedup)
                            .fetch_one(&mut *tx)
                            .await?;
                        FireOutcome::StillRunning(row.try_into()?)
                    }
                }
            }
        });
        Ok(outcome)
    }
}
