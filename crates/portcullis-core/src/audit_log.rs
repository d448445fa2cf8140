//! The audit log as Harbor's API shows it: recording actions, listing entries by what the
//! caller may see, purging them, and the schedule of the purge.

use portcullis_meta::{AuditEntry, AuditQuery, ProjectId};

use crate::audit::Actor;
use crate::context::RequestCtx;
use crate::error::Result;
use std::sync::Arc;

use portcullis_meta::{MetaStore, NewSchedule, Schedule};
use portcullis_types::ErrorCode;

use crate::access::Access;
use crate::audit::AuditRecorder;
use crate::error::Error;
use crate::purge::{PURGE_AUDIT, purge_parameters};

mod runs;

/// The audit log service.
pub struct AuditLog {
    meta: MetaStore,
    access: Arc<Access>,
    recorder: Arc<AuditRecorder>,
    /// Days entries are kept when a purge names no retention of its own.
    retention_days: u32,
}

impl AuditLog {
    pub fn new(
        meta: MetaStore,
        access: Arc<Access>,
        recorder: Arc<AuditRecorder>,
        retention_days: u32,
    ) -> Self {
        AuditLog {
            meta,
            access,
            recorder,
            retention_days,
        }
    }

    /// Records an action in the audit log (off the request path).
    pub fn action(
        &self,
        actor: &Actor,
        operation: &str,
        resource_type: &str,
        resource: &str,
        project_id: Option<i64>,
        success: bool,
    ) {
        self.recorder.action(
            actor,
            operation,
            resource_type,
            resource,
            project_id,
            success,
        );
    }

    /// Writes queued audit entries now (tests, shutdown).
    pub async fn flush(&self) {
        self.recorder.flush().await;
    }

    /// A page of the audit log. System admins see every entry; others see the entries
    /// of the projects whose logs they may list, and nothing else.
    pub async fn list_audit(
        &self,
        ctx: &RequestCtx,
        mut q: AuditQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<AuditEntry>, u64)> {
        if !ctx.principal.may_system("audit-log", "list") {
            let mut allowed = Vec::new();
            for id in self.access.member_project_ids(&ctx.principal).await? {
                let Some(p) = self.meta.projects().get_project(ProjectId(id)).await? else {
                    continue;
                };
                let info = crate::ProjectInfo {
                    id,
                    name: p.name.to_string(),
                    public: p.public,
                };
                if self
                    .access
                    .project_access(&ctx.principal, &info, None)
                    .await?
                    .can("log", "list")
                {
                    allowed.push(ProjectId(id));
                }
            }
            q.projects = Some(match q.projects {
                Some(wanted) => wanted.into_iter().filter(|p| allowed.contains(p)).collect(),
                None => allowed,
            });
        }
        Ok(self.meta.audit().list_audit(&q, page, page_size).await?)
    }

    /// Purges entries older than `retain_hours`, optionally only some operations
    /// (`/api/v2.0/system/purgeaudit`); system admins only. Returns how many went.
    /// With `dry_run`, only counts what would go.
    pub async fn purge_audit(
        &self,
        ctx: &RequestCtx,
        retain_hours: u32,
        operations: Option<Vec<String>>,
        dry_run: bool,
    ) -> Result<u64> {
        if !ctx.principal.is_sysadmin() {
            return Err(crate::Error::code(portcullis_types::ErrorCode::Forbidden));
        }
        self.flush().await;
        let before =
            time::OffsetDateTime::now_utc() - time::Duration::hours(i64::from(retain_hours));
        let audit = self.meta.audit();
        Ok(if dry_run {
            audit.count_purgeable(before, operations.as_deref()).await?
        } else {
            audit.purge_audit(before, operations.as_deref()).await?
        })
    }

    /// Harbor's audit event types (`create_artifact`, `pull_artifact`, …): what the log
    /// holds, for any logged-in caller.
    pub async fn event_types(&self, ctx: &RequestCtx) -> Result<Vec<String>> {
        if ctx.principal.is_anonymous() {
            return Err(Error::new(ErrorCode::HarborUnauthorized, "UnAuthorized"));
        }
        self.flush().await;
        Ok(self
            .meta
            .audit()
            .event_types()
            .await?
            .into_iter()
            .map(|(op, kind)| format!("{op}_{}", kind.replace('-', "_")))
            .collect())
    }

    /// The audit purge schedule, if one was ever set.
    pub async fn purge_schedule(&self) -> Result<Option<Schedule>> {
        Ok(self.meta.schedules().get_schedule(PURGE_AUDIT).await?)
    }

    /// Sets the purge schedule; `cron = None` disables it (Harbor's "None"). System admins only.
    pub async fn set_purge_schedule(
        &self,
        ctx: &RequestCtx,
        cron: Option<String>,
        parameters: serde_json::Value,
    ) -> Result<Schedule> {
        if !ctx.principal.is_sysadmin() {
            return Err(crate::access::forbidden(&ctx.principal));
        }
        let (hours, _) = purge_parameters(&parameters);
        if hours == Some(0) {
            return Err(Error::new(
                ErrorCode::BadRequest,
                "audit_retention_hour must be positive",
            ));
        }
        let enabled = cron.is_some();
        let cron = cron.unwrap_or_else(|| "0 0 3 * * *".to_string());
        let next_run_at = portcullis_jobs::next_run_after(&cron, time::OffsetDateTime::now_utc())
            .map_err(Error::internal)?;
        let mut payload = parameters;
        if hours.is_none() {
            payload["audit_retention_hour"] =
                serde_json::json!(u64::from(self.retention_days) * 24);
        }
        Ok(self
            .meta
            .schedules()
            .put_schedule(&NewSchedule {
                name: PURGE_AUDIT.into(),
                kind: PURGE_AUDIT.into(),
                payload,
                cron,
                max_attempts: 3,
                enabled,
                next_run_at,
            })
            .await?)
    }
}
