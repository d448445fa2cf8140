//! Deliveries: an execution per event and policy, a task per target, each task run as a
//! job of the durable queue, and a row per attempt.

use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::WebhookPolicy;
use crate::dbtime::{DbTime, now};
use crate::error::corrupt;
use crate::rows::to_u64;
use crate::sql::{Arg, Sql, bind_args, in_tx, limit_offset, with_pool};
use crate::{JobId, JobState, Result, Webhooks};

/// Inside a transaction: writes an execution per delivery, its tasks and their jobs, and
/// yields how many tasks were queued. A delivery whose policy is gone writes nothing.
macro_rules! insert_deliveries {
    ($tx:ident, $batch:expr, $t:expr) => {{
        let mut queued = 0usize;
            for d in $batch {
                let exec = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO webhook_executions (policy_id, event_type, start_time) \
                     SELECT $1, $2, $3 WHERE EXISTS \
                     (SELECT 1 FROM webhook_policies WHERE id = $1) RETURNING id",
                )
                .bind(d.policy_id)
                .bind(&d.event_type)
                .bind($t)
                .fetch_optional(&mut *$tx)
                .await?;
                let Some(exec) = exec else { continue };
                for task in &d.tasks {
                    let id = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO webhook_tasks (execution_id, notify_type, address, \
                         payload_format, content_type, body, creation_time) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    )
                    .bind(exec)
                    .bind(&task.notify_type)
                    .bind(&task.address)
                    .bind(&task.payload_format)
                    .bind(&task.content_type)
                    .bind(&task.body)
                    .bind($t)
                    .fetch_one(&mut *$tx)
                    .await?;
                    let job = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, \
                         next_run_at, created_at, updated_at) \
                         VALUES ($1, $2, 'pending', 0, $3, $4, $4, $4) RETURNING id",
                    )
                    .bind(WEBHOOK_JOB_KIND)
                    .bind(serde_json::json!({ "task_id": id }).to_string())
                    .bind(i64::from(d.max_attempts.max(1)))
                    .bind($t)
                    .fetch_one(&mut *$tx)
                    .await?;
                    sqlx::query("UPDATE webhook_tasks SET job_id = $1 WHERE id = $2")
                        .bind(job)
                        .bind(id)
                        .execute(&mut *$tx)
                        .await?;
                    queued += 1;
                }
            }
        queued
    }};
}
pub(crate) use insert_deliveries;

/// The job kind that delivers one webhook task; its payload is `{"task_id": n}`.
pub const WEBHOOK_JOB_KIND: &str = "webhook";

/// One target's delivery of an event, as rendered when the event happened.
#[derive(Debug, Clone)]
pub struct NewWebhookTask {
    pub notify_type: String,
    pub address: String,
    pub payload_format: String,
    pub content_type: String,
    pub body: String,
}

/// An event matched by a policy, with one task per target.
#[derive(Debug, Clone)]
pub struct NewWebhookDelivery {
    pub policy_id: i64,
    pub event_type: String,
    /// Attempts of each task's job.
    pub max_attempts: u32,
    pub tasks: Vec<NewWebhookTask>,
}

/// A task with the state of its job.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTask {
    pub id: i64,
    pub execution_id: i64,
    pub job_id: Option<JobId>,
    pub notify_type: String,
    pub address: String,
    pub payload_format: String,
    pub content_type: String,
    pub creation_time: OffsetDateTime,
    /// `None` when the job row is gone.
    pub state: Option<JobState>,
    /// Attempts started so far.
    pub attempts: u32,
    pub last_error: Option<String>,
    pub update_time: OffsetDateTime,
    pub end_time: Option<OffsetDateTime>,
}

/// An execution with its tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookExecution {
    pub id: i64,
    pub policy_id: i64,
    pub event_type: String,
    pub start_time: OffsetDateTime,
    pub tasks: Vec<WebhookTask>,
}

/// What the delivering worker needs: the task, the exact body, and the policy (for
/// credentials and the signing key, which are never copied into task rows).
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub task: WebhookTask,
    pub body: String,
    pub policy: WebhookPolicy,
}

/// One attempt to be recorded.
#[derive(Debug, Clone)]
pub struct NewWebhookAttempt {
    pub task_id: i64,
    pub attempt: u32,
    /// The receiver's HTTP status; `None` when no answer came (refused, timed out).
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// The start of the response body.
    pub response: String,
    pub error: Option<String>,
}

/// A recorded attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub response: String,
    pub error: Option<String>,
    pub at: OffsetDateTime,
}

const TASK_SELECT: &str = "SELECT t.id, t.execution_id, t.job_id, t.notify_type, t.address, \
     t.payload_format, t.content_type, t.creation_time, j.state, j.attempts, j.last_error, \
     j.updated_at, j.finished_at FROM webhook_tasks t LEFT JOIN jobs j ON j.id = t.job_id";

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    execution_id: i64,
    job_id: Option<i64>,
    notify_type: String,
    address: String,
    payload_format: String,
    content_type: String,
    creation_time: DbTime,
    state: Option<String>,
    attempts: Option<i64>,
    last_error: Option<String>,
    updated_at: Option<DbTime>,
    finished_at: Option<DbTime>,
}

impl TryFrom<TaskRow> for WebhookTask {
    type Error = crate::Error;

    fn try_from(r: TaskRow) -> Result<Self> {
        let state = match r.state {
            Some(s) => Some(s.parse().map_err(|_| corrupt("job state", &s))?),
            None => None,
        };
        Ok(WebhookTask {
            id: r.id,
            execution_id: r.execution_id,
            job_id: r.job_id.map(JobId),
            notify_type: r.notify_type,
            address: r.address,
            payload_format: r.payload_format,
            content_type: r.content_type,
            creation_time: r.creation_time.0,
            state,
            attempts: u32::try_from(r.attempts.unwrap_or(0)).unwrap_or(0),
            last_error: r.last_error,
            update_time: r.updated_at.map_or(r.creation_time.0, |t| t.0),
            end_time: r.finished_at.map(|t| t.0),
        })
    }
}

impl Webhooks<'_> {
    /// Records executions and tasks and queues one job per task, all in one transaction:
    /// once this returns, every delivery survives restarts. Executions of policies
    /// deleted meanwhile are skipped. Returns the number of tasks queued.
    pub async fn create_webhook_deliveries(self, batch: &[NewWebhookDelivery]) -> Result<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let t = DbTime(now());
        let mut queued = 0;
        in_tx!(self, |tx| {
            queued += insert_deliveries!(tx, batch, t);
        });
        Ok(queued)
    }

    /// A page of a policy's executions, newest first, with the total count.
    pub async fn list_webhook_executions(
        self,
        policy_id: i64,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<WebhookExecution>, u64)> {
        let (limit, offset) = limit_offset(page, page_size);
        let (total, rows) = with_pool!(self, read, |pool| {
            let total = sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM webhook_executions WHERE policy_id = $1",
            )
            .bind(policy_id)
            .fetch_one(pool)
            .await?;
            let rows = sqlx::query_as::<_, (i64, i64, String, DbTime)>(
                "SELECT id, policy_id, event_type, start_time FROM webhook_executions \
                 WHERE policy_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
            )
            .bind(policy_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            (total, rows)
        });
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let mut tasks = self.tasks_of(&ids).await?;
        let list = rows
            .into_iter()
            .map(|(id, policy_id, event_type, start)| WebhookExecution {
                id,
                policy_id,
                event_type,
                start_time: start.0,
                tasks: tasks.remove(&id).unwrap_or_default(),
            })
            .collect();
        Ok((list, to_u64(total)))
    }

    /// One execution of a policy.
    pub async fn get_webhook_execution(
        self,
        policy_id: i64,
        id: i64,
    ) -> Result<Option<WebhookExecution>> {
        let row = with_pool!(self, read, |pool| {
            sqlx::query_as::<_, (i64, i64, String, DbTime)>(
                "SELECT id, policy_id, event_type, start_time FROM webhook_executions \
                 WHERE policy_id = $1 AND id = $2",
            )
            .bind(policy_id)
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        let Some((id, policy_id, event_type, start)) = row else {
            return Ok(None);
        };
        let tasks = self.tasks_of(&[id]).await?.remove(&id).unwrap_or_default();
        Ok(Some(WebhookExecution {
            id,
            policy_id,
            event_type,
            start_time: start.0,
            tasks,
        }))
    }

    async fn tasks_of(
        self,
        executions: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<WebhookTask>>> {
        let mut sql = Sql::new(TASK_SELECT);
        sql.push(" WHERE t.execution_id IN ")
            .bind_list(executions.iter().map(|i| Arg::I64(*i)))
            .push(" ORDER BY t.id");
        let rows = with_pool!(self, read, |pool| {
            bind_args!(
                sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql.text)),
                sql.args
            )
            .fetch_all(pool)
            .await?
        });
        let mut out: std::collections::HashMap<i64, Vec<WebhookTask>> = Default::default();
        for r in rows {
            let task = WebhookTask::try_from(r)?;
            out.entry(task.execution_id).or_default().push(task);
        }
        Ok(out)
    }

    /// The task, its body and its policy, for the worker delivering it.
    pub async fn webhook_delivery(self, task_id: i64) -> Result<Option<WebhookDelivery>> {
        let sql = format!("{TASK_SELECT} WHERE t.id = $1");
        let found = with_pool!(self, write, |pool| {
            let task = sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql))
                .bind(task_id)
                .fetch_optional(pool)
                .await?;
            let head = sqlx::query_as::<_, (String, i64, i64)>(
                "SELECT t.body, p.project_id, p.id FROM webhook_tasks t \
                 JOIN webhook_executions e ON e.id = t.execution_id \
                 JOIN webhook_policies p ON p.id = e.policy_id WHERE t.id = $1",
            )
            .bind(task_id)
            .fetch_optional(pool)
            .await?;
            task.zip(head)
        });
        let Some((task, (body, project, policy))) = found else {
            return Ok(None);
        };
        let Some(policy) = self
            .get_webhook_policy(crate::ProjectId(project), policy)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(WebhookDelivery {
            task: task.try_into()?,
            body,
            policy,
        }))
    }

    /// Appends an attempt to a task's record.
    pub async fn record_webhook_attempt(self, a: &NewWebhookAttempt) -> Result<()> {
        let t = DbTime(now());
        with_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO webhook_attempts (task_id, attempt, status_code, duration_ms, \
                 response, error, at) SELECT $1, $2, $3, $4, $5, $6, $7 \
                 WHERE EXISTS (SELECT 1 FROM webhook_tasks WHERE id = $1)",
            )
            .bind(a.task_id)
            .bind(i64::from(a.attempt))
            .bind(a.status_code.map(i64::from))
            .bind(i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
            .bind(&a.response)
            .bind(&a.error)
            .bind(t)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A task of an execution of a policy, with its attempts in order.
    pub async fn webhook_task_attempts(
        self,
        execution_id: i64,
        task_id: i64,
    ) -> Result<Option<(WebhookTask, Vec<WebhookAttempt>)>> {
        let sql = format!("{TASK_SELECT} WHERE t.id = $1 AND t.execution_id = $2");
        let (task, rows) = with_pool!(self, read, |pool| {
            let task = sqlx::query_as::<_, TaskRow>(AssertSqlSafe(sql))
                .bind(task_id)
                .bind(execution_id)
                .fetch_optional(pool)
                .await?;
            let rows =
                sqlx::query_as::<_, (i64, Option<i64>, i64, String, Option<String>, DbTime)>(
                    "SELECT attempt, status_code, duration_ms, response, error, at \
                 FROM webhook_attempts WHERE task_id = $1 ORDER BY id",
                )
                .bind(task_id)
                .fetch_all(pool)
                .await?;
            (task, rows)
        });
        let Some(task) = task else { return Ok(None) };
        let attempts = rows
            .into_iter()
            .map(|(attempt, code, ms, response, error, at)| WebhookAttempt {
                attempt: u32::try_from(attempt).unwrap_or(0),
                status_code: code.and_then(|c| u16::try_from(c).ok()),
                duration_ms: to_u64(ms),
                response,
                error,
                at: at.0,
            })
            .collect();
        Ok(Some((task.try_into()?, attempts)))
    }
}
