//! Harbor's job-service actions over the durable runner's jobs: stop one job, read its
//! log, stop what waits in a queue. System admins only, as in Harbor. Queues cannot be
//! paused here; asking for it is refused plainly.

use portcullis_meta::{Job, JobId, JobQuery, JobState, MetaStore, StopRequest};
use portcullis_types::ErrorCode;

use crate::context::RequestCtx;
use crate::error::{Error, Result};

fn admin(ctx: &RequestCtx) -> Result<()> {
    if ctx.principal.is_sysadmin() {
        Ok(())
    } else {
        Err(crate::access::forbidden(&ctx.principal))
    }
}

fn job_id(id: &str) -> Result<JobId> {
    id.parse::<i64>()
        .map(JobId)
        .map_err(|_| Error::new(ErrorCode::BadRequest, format!("invalid job id {id:?}")))
}

async fn job(meta: &MetaStore, id: &str) -> Result<Job> {
    meta.jobs()
        .get_job(job_id(id)?)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("job {id} not found")))
}

/// Stops a job that has not finished (a running one stops at its next lease renewal).
pub async fn stop_job(meta: &MetaStore, ctx: &RequestCtx, id: &str) -> Result<()> {
    admin(ctx)?;
    let j = job(meta, id).await?;
    match meta.jobs().request_job_stop(j.id).await? {
        StopRequest::Stopped | StopRequest::Requested => Ok(()),
        StopRequest::AlreadyFinished(state) => Err(Error::new(
            ErrorCode::PreconditionFailed,
            format!("job {id} has already finished ({state:?})"),
        )),
    }
}

/// What the runner knows of a job, as text: kind, state, attempts, progress, last error.
pub async fn job_log(meta: &MetaStore, ctx: &RequestCtx, id: &str) -> Result<String> {
    admin(ctx)?;
    let j = job(meta, id).await?;
    let mut log = format!(
        "job {} ({}) created {}\nstate {:?} after {} of {} attempts\n",
        j.id.0, j.kind, j.created_at, j.state, j.attempts, j.max_attempts
    );
    if !j.progress_message.is_empty() {
        log.push_str(&format!(
            "progress {}%: {}\n",
            j.progress_percent, j.progress_message
        ));
    }
    if let Some(e) = &j.last_error {
        log.push_str(&format!("last error: {e}\n"));
    }
    if let Some(t) = j.finished_at {
        log.push_str(&format!("finished {t}\n"));
    }
    Ok(log)
}

/// `stop` stops every pending job of `kind` (`all`: of every kind); returns how many.
pub async fn queue_action(
    meta: &MetaStore,
    ctx: &RequestCtx,
    kind: &str,
    action: &str,
) -> Result<u64> {
    admin(ctx)?;
    match action {
        "stop" => {}
        "pause" | "resume" => {
            return Err(Error::new(
                ErrorCode::NotImplemented,
                "job queues cannot be paused or resumed by Portcullis; stop is supported",
            ));
        }
        other => {
            return Err(Error::new(
                ErrorCode::BadRequest,
                format!("invalid action {other:?}: use stop, pause or resume"),
            ));
        }
    }
    let mut stopped = 0;
    loop {
        let (pending, _) = meta
            .jobs()
            .list_jobs(&JobQuery {
                kind: (kind != "all").then(|| kind.to_string()),
                state: Some(JobState::Pending),
                page: 1,
                page_size: 500,
            })
            .await?;
        let before = stopped;
        for j in &pending {
            if matches!(
                meta.jobs().request_job_stop(j.id).await?,
                StopRequest::Stopped
            ) {
                stopped += 1;
            }
        }
        // Empty, or every job left started meanwhile (running jobs are not queued).
        if stopped == before {
            return Ok(stopped);
        }
    }
}
