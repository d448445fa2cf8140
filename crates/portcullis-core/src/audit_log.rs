//! The audit log as Harbor's API shows it: recording actions, listing entries by what the
//! caller may see, and purging them.

use portcullis_meta::{AuditEntry, AuditQuery, ProjectId};

use crate::audit::Actor;
use crate::auth::Principal;
use crate::error::Result;
use crate::registry::Registry;

impl Registry {
    /// Records an action in the audit log (off the request path).
    pub fn audit(
        &self,
        actor: &Actor,
        operation: &str,
        resource_type: &str,
        resource: &str,
        project_id: Option<i64>,
        success: bool,
    ) {
        self.audit_log.action(
            actor,
            operation,
            resource_type,
            resource,
            project_id,
            success,
        );
    }

    /// Writes queued audit entries now (tests, shutdown).
    pub async fn flush_audit(&self) {
        self.audit_log.flush().await;
    }

    /// A page of the audit log. System admins see every entry; others see the entries
    /// of the projects whose logs they may list, and nothing else.
    pub async fn list_audit(
        &self,
        principal: &Principal,
        mut q: AuditQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<AuditEntry>, u64)> {
        if !principal.is_sysadmin() {
            let mut allowed = Vec::new();
            for id in self.access.member_project_ids(principal).await? {
                let Some(p) = self.meta.get_project(ProjectId(id)).await? else {
                    continue;
                };
                let info = crate::ProjectInfo {
                    id,
                    name: p.name.to_string(),
                    public: p.public,
                };
                if self
                    .access
                    .project_access(principal, &info, None)
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
        Ok(self.meta.list_audit(&q, page, page_size).await?)
    }

    /// Purges entries older than `retain_hours`, optionally only some operations
    /// (`/api/v2.0/system/purgeaudit`); system admins only. Returns how many went.
    pub async fn purge_audit(
        &self,
        principal: &Principal,
        retain_hours: u32,
        operations: Option<Vec<String>>,
    ) -> Result<u64> {
        if !principal.is_sysadmin() {
            return Err(crate::Error::code(portcullis_types::ErrorCode::Forbidden));
        }
        self.flush_audit().await;
        let before =
            time::OffsetDateTime::now_utc() - time::Duration::hours(i64::from(retain_hours));
        Ok(self.meta.purge_audit(before, operations.as_deref()).await?)
    }
}
