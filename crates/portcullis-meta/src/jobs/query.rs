//! Reading the queue for the API and metrics, and pruning finished jobs.

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use crate::dbtime::DbTime;
use crate::jobs::model::{Job, JobCount, JobId, JobQuery};
use crate::jobs::rows::{JOB_COLUMNS, JobRow, jobs};
use crate::rows::to_u64;
use crate::sql::{Arg, Sql, bind_args, limit_offset, with_pool};
use crate::{Jobs, Result};

impl Jobs<'_> {
    /// The job with this id.
    pub async fn get_job(self, id: JobId) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, JobRow>(AssertSqlSafe(sql))
                .bind(id.0)
                .fetch_optional(pool)
                .await?
        });
        row.map(Job::try_from).transpose()
    }

    /// One page of jobs, newest first, filtered by kind and state, with the total count.
    pub async fn list_jobs(self, query: &JobQuery) -> Result<(Vec<Job>, u64)> {
        let mut filter = Sql::new(" FROM jobs WHERE 1 = 1");
        if let Some(kind) = &query.kind {
            filter.push(" AND kind = ").bind(Arg::Text(kind.clone()));
        }
        if let Some(state) = query.state {
            filter
                .push(" AND state = ")
                .bind(Arg::Text(state.as_str().to_string()));
        }
        let (limit, offset) = limit_offset(query.page, query.page_size);
        let count_sql = format!("SELECT COUNT(*){}", filter.text);
        let args = filter.args.clone();
        let mut page = Sql::new(&format!("SELECT {JOB_COLUMNS}"));
        page.push(&filter.text);
        page.args = filter.args;
        page.push(" ORDER BY id DESC LIMIT ")
            .bind(Arg::I64(limit))
            .push(" OFFSET ")
            .bind(Arg::I64(offset));
        let (rows, total) = with_pool!(self, read, |pool| {
            let total: i64 = bind_args!(sqlx::query_scalar(AssertSqlSafe(count_sql)), args)
                .fetch_one(pool)
                .await?;
            let rows: Vec<JobRow> = bind_args!(sqlx::query_as(AssertSqlSafe(page.text)), page.args)
                .fetch_all(pool)
                .await?;
            (rows, total)
        });
        let mut jobs = jobs(rows)?;
        jobs.reverse();
        Ok((jobs, to_u64(total)))
    }

    /// How many jobs each kind has in each state (only non-zero counts), ordered by kind
    /// and state: queue depth for metrics and the API.
    pub async fn job_counts(self) -> Result<Vec<JobCount>> {
        let rows: Vec<(String, String, i64)> = with_pool!(self, read, |pool| {
            sqlx::query_as("SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state")
                .fetch_all(pool)
                .await?
        });
        let mut counts = rows
            .into_iter()
            .map(|(kind, state, count)| {
                Ok(JobCount {
                    state: state
                        .parse()
                        .map_err(|_| crate::error::corrupt("job state", &state))?,
                    kind,
                    count: to_u64(count),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        counts.sort_by(|a, b| (&a.kind, a.state).cmp(&(&b.kind, b.state)));
        Ok(counts)
    }

    /// Per kind with pending jobs: how many are pending and when the oldest of them was
    /// queued (Harbor's job queues: count and latency).
    pub async fn pending_queues(self) -> Result<Vec<(String, u64, OffsetDateTime)>> {
        let rows: Vec<(String, i64, DbTime)> = with_pool!(self, read, |pool| {
            sqlx::query_as(
                "SELECT kind, COUNT(*), MIN(created_at) FROM jobs WHERE state = 'pending' \
                 GROUP BY kind ORDER BY kind",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(kind, n, oldest)| (kind, to_u64(n), oldest.0))
            .collect())
    }

    /// Deletes finished jobs that finished before `before`; returns how many.
    pub async fn purge_finished_jobs(self, before: OffsetDateTime) -> Result<u64> {
        let done = with_pool!(self, write, |pool| {
            sqlx::query(
                "DELETE FROM jobs WHERE state IN ('succeeded', 'failed', 'stopped') \
                 AND finished_at < $1",
            )
            .bind(DbTime::from(before))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }
}
