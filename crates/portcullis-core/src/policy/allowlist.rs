//! CVE allowlists: the system's and each project's, Harbor's validation, and the list the
//! pull gate applies to a project (chosen by `portcullis_policy::allowlist`).

use std::collections::HashSet;

use portcullis_meta::{CveAllowlist, Project, ProjectId};
use portcullis_policy::allowlist::{ListRef, effective, reuses_system};
use portcullis_types::ErrorCode;
use serde::{Deserialize, Serialize};

use super::Policy;
use crate::access::forbidden;
use crate::context::RequestCtx;
use crate::error::{Error, Result};

pub use portcullis_policy::allowlist::{REUSE_SYS_KEY, in_force};

/// One entry (`CVEAllowlistItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistItem {
    #[serde(default)]
    pub cve_id: String,
}

/// An allowlist as a client sends it (`CVEAllowlist`); ids and times are the server's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AllowlistInput {
    #[serde(default)]
    pub items: Vec<AllowlistItem>,
    #[serde(default)]
    pub expires_at: Option<i64>,
}

impl AllowlistInput {
    /// The ids, trimmed: `400` for an empty or repeated id or a negative expiry.
    pub fn validated(&self) -> Result<(Vec<String>, Option<i64>)> {
        let mut seen = HashSet::new();
        let mut ids = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let id = item.cve_id.trim();
            if id.is_empty() {
                return Err(Error::new(
                    ErrorCode::BadRequest,
                    "empty CVE ID in allowlist",
                ));
            }
            if !seen.insert(id.to_string()) {
                return Err(Error::new(
                    ErrorCode::BadRequest,
                    format!("duplicate CVE ID in allowlist: {id}"),
                ));
            }
            ids.push(id.to_string());
        }
        if let Some(t) = self.expires_at
            && t < 0
        {
            return Err(Error::new(
                ErrorCode::BadRequest,
                format!("invalid expires_at {t}: seconds since the epoch, or null"),
            ));
        }
        Ok((ids, self.expires_at))
    }
}

/// A stored list as the policy decisions read it.
pub fn list_ref(list: &CveAllowlist) -> ListRef<'_> {
    ListRef {
        items: &list.items,
        expires_at: list.expires_at,
    }
}

impl Policy {
    /// The system allowlist (any signed-in caller).
    pub async fn system_allowlist(&self, ctx: &RequestCtx) -> Result<CveAllowlist> {
        if ctx.principal.is_anonymous() {
            return Err(forbidden(&ctx.principal));
        }
        self.meta
            .policies()
            .get_cve_allowlist(None)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("the system allowlist row is missing")))
    }

    /// Replaces the system allowlist (system administrators only).
    pub async fn set_system_allowlist(
        &self,
        ctx: &RequestCtx,
        input: &AllowlistInput,
    ) -> Result<()> {
        let res = async {
            if !ctx.principal.is_sysadmin() {
                return Err(forbidden(&ctx.principal));
            }
            let (ids, expires_at) = input.validated()?;
            self.meta
                .policies()
                .put_cve_allowlist(None, &ids, expires_at)
                .await?;
            self.gate_changed();
            Ok(())
        }
        .await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "cve_allowlist",
            "system",
            None,
            res.is_ok(),
        );
        res
    }

    /// The project's own allowlist, if it has one.
    pub async fn project_allowlist(&self, project: ProjectId) -> Result<Option<CveAllowlist>> {
        Ok(self
            .meta
            .policies()
            .get_cve_allowlist(Some(project))
            .await?)
    }

    /// Replaces the project's own allowlist; the caller has checked `project:update`.
    pub(crate) async fn store_project_allowlist(
        &self,
        project: ProjectId,
        input: &AllowlistInput,
    ) -> Result<()> {
        let (ids, expires_at) = input.validated()?;
        self.meta
            .policies()
            .put_cve_allowlist(Some(project), &ids, expires_at)
            .await?;
        self.gate_changed();
        Ok(())
    }

    /// The CVE ids the pull gate ignores for `project` now.
    pub async fn effective_allowlist(&self, project: &Project) -> Result<HashSet<String>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let reuse = reuses_system(&project.metadata);
        // Only the list that applies is read; it stands in for both.
        let list = self
            .meta
            .policies()
            .get_cve_allowlist(if reuse { None } else { Some(project.id) })
            .await?;
        let list = list.as_ref().map(list_ref);
        Ok(effective(reuse, list, list, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(ids: &[&str], expires_at: Option<i64>) -> AllowlistInput {
        AllowlistInput {
            items: ids
                .iter()
                .map(|i| AllowlistItem {
                    cve_id: i.to_string(),
                })
                .collect(),
            expires_at,
        }
    }

    #[test]
    fn validation() {
        let (ids, _) = input(&[" CVE-2024-1 ", "CVE-2024-2"], None)
            .validated()
            .unwrap();
        assert_eq!(ids, ["CVE-2024-1", "CVE-2024-2"]);
        let e = input(&["CVE-2024-1", ""], None).validated().unwrap_err();
        assert_eq!(e.message, "empty CVE ID in allowlist");
        let e = input(&["CVE-2024-1", "CVE-2024-1 "], None)
            .validated()
            .unwrap_err();
        assert_eq!(e.message, "duplicate CVE ID in allowlist: CVE-2024-1");
        assert!(input(&[], Some(-5)).validated().is_err());
        assert!(input(&[], None).validated().is_ok());
    }
}
