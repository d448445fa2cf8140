//! Purge runs as Harbor shows them (`/system/purgeaudit`, `/system/purgeaudit/{id}`):
//! each run, scheduled or asked for, is a job of the durable runner (kind
//! `purge-audit`), so history, state, log and stop come from the job table.

use portcullis_meta::{Job, JobId, JobQuery, NewJob, StopRequest};
use portcullis_types::ErrorCode;

use super::AuditLog;
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::purge::PURGE_AUDIT;

/// The payload key that tells a run asked for through the API from a scheduled one.
pub const MANUAL_TRIGGER: &str = "trigger";

impl AuditLog {
    fn admin(&self, ctx: &RequestCtx, action: &str) -> Result<()> {
        if ctx.principal.may_system("purge-audit", action) {
            Ok(())
        } else {
            Err(crate::access::forbidden(&ctx.principal))
        }
    }

    /// Queues a purge run now with Harbor's `parameters` (`audit_retention_hour`,
    /// `include_operations` or `include_event_types`, `dry_run`); returns its id.
    pub async fn request_purge(
        &self,
        ctx: &RequestCtx,
        parameters: serde_json::Value,
    ) -> Result<JobId> {
        self.admin(ctx, "create")?;
        let mut payload = match parameters {
            serde_json::Value::Object(m) => serde_json::Value::Object(m),
            serde_json::Value::Null => serde_json::json!({}),
            _ => {
                return Err(Error::new(
                    ErrorCode::BadRequest,
                    "parameters must be an object",
                ));
            }
        };
        payload[MANUAL_TRIGGER] = "Manual".into();
        let queued = self
            .meta
            .jobs()
            .enqueue_job(&NewJob::new(PURGE_AUDIT, payload))
            .await?;
        Ok(queued.job.id)
    }

    /// Purge runs, newest first.
    pub async fn purge_runs(
        &self,
        ctx: &RequestCtx,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Job>, u64)> {
        self.admin(ctx, "list")?;
        Ok(self
            .meta
            .jobs()
            .list_jobs(&JobQuery {
                kind: Some(PURGE_AUDIT.to_string()),
                state: None,
                page,
                page_size,
            })
            .await?)
    }

    /// One purge run.
    pub async fn purge_run(&self, ctx: &RequestCtx, id: i64) -> Result<Job> {
        self.admin(ctx, "read")?;
        self.meta
            .jobs()
            .get_job(JobId(id))
            .await?
            .filter(|j| j.kind == PURGE_AUDIT)
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("purge job {id} not found")))
    }

    /// Asks a purge run to stop; a finished one is left as it is.
    pub async fn stop_purge(&self, ctx: &RequestCtx, id: i64) -> Result<()> {
        self.admin(ctx, "stop")?;
        self.purge_run(ctx, id).await?;
        match self.meta.jobs().request_job_stop(JobId(id)).await? {
            StopRequest::Stopped | StopRequest::Requested => Ok(()),
            StopRequest::AlreadyFinished(_) => Err(Error::new(
                ErrorCode::PreconditionFailed,
                format!("purge job {id} has already finished"),
            )),
        }
    }
}
