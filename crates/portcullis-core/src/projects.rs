//! Projects (Harbor's namespaces) and user authentication.

mod metadata;
pub mod statistics;

use std::collections::BTreeMap;

use portcullis_meta::{NewProject, Project, ProjectId, ProjectQuery};
use portcullis_types::{ErrorCode, ProjectName};

pub use crate::access::forbidden;
use crate::auth::Principal;
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::rbac::Role;
use std::sync::Arc;

use portcullis_meta::MetaStore;

use crate::access::Access;
use crate::audit::AuditRecorder;
use crate::cache::Resolutions;
use crate::policy::Policy;

/// The projects service: Harbor's project CRUD, and forgetting what is cached about a
/// project once it changed.
pub struct Projects {
    meta: MetaStore,
    access: Arc<Access>,
    audit_log: Arc<AuditRecorder>,
    policy: Arc<Policy>,
    resolutions: Arc<Resolutions>,
}

/// Harbor's project metadata keys whose values are "true"/"false".
const BOOLEAN_KEYS: &[&str] = &[
    "public",
    "enable_content_trust",
    "enable_content_trust_cosign",
    "prevent_vul",
    "auto_scan",
    "auto_sbom_generation",
    "reuse_sys_cve_allowlist",
];
const SEVERITIES: &[&str] = &["none", "low", "medium", "high", "critical"];

/// Whether `key` is a project metadata key Harbor knows.
pub fn is_metadata_key(key: &str) -> bool {
    BOOLEAN_KEYS.contains(&key) || matches!(key, "severity" | "retention_id" | "proxy_speed_kb")
}

/// Checks Harbor metadata and keeps only the keys Harbor knows, as Harbor does.
pub fn clean_metadata(input: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in input {
        let v = v.trim();
        if BOOLEAN_KEYS.contains(&k.as_str()) {
            let v = v.to_ascii_lowercase();
            if v != "true" && v != "false" {
                return Err(Error::new(
                    ErrorCode::BadRequest,
                    format!(
                        "invalid value of metadata {k}: {v:?} (expected \"true\" or \"false\")"
                    ),
                ));
            }
            out.insert(k.clone(), v);
        } else if k == "severity" {
            let v = v.to_ascii_lowercase();
            if !SEVERITIES.contains(&v.as_str()) {
                return Err(Error::new(
                    ErrorCode::BadRequest,
                    format!("invalid value of metadata severity: {v:?}"),
                ));
            }
            out.insert(k.clone(), v);
        } else if k == "retention_id" || k == "proxy_speed_kb" {
            if v.parse::<i64>().is_err() {
                return Err(Error::new(
                    ErrorCode::BadRequest,
                    format!("invalid value of metadata {k}: {v:?}"),
                ));
            }
            out.insert(k.clone(), v.to_string());
        }
    }
    Ok(out)
}

/// Policy settings a project create or update may carry beside its metadata.
#[derive(Debug, Clone, Default)]
pub struct ProjectPolicies {
    /// Storage limit in bytes, -1 unlimited (create only; later through the quota API).
    pub storage_limit: Option<i64>,
    /// The project's own CVE allowlist.
    pub cve_allowlist: Option<crate::policy::allowlist::AllowlistInput>,
}

impl Projects {
    pub fn new(
        meta: MetaStore,
        access: Arc<Access>,
        audit_log: Arc<AuditRecorder>,
        policy: Arc<Policy>,
        resolutions: Arc<Resolutions>,
    ) -> Self {
        Projects {
            meta,
            access,
            audit_log,
            policy,
            resolutions,
        }
    }

    /// Drops cached facts about a project after it changed: its access, every pull-gate
    /// decision, and resolved references.
    pub fn forget(&self, name: &str) {
        self.access.forget_project(name);
        self.policy.gate_changed();
        self.resolutions.invalidate();
    }

    pub async fn create_project(
        &self,
        ctx: &RequestCtx,
        name: &str,
        public: bool,
        metadata: &BTreeMap<String, String>,
        policies: &ProjectPolicies,
    ) -> Result<Project> {
        // Harbor's default creation restriction is "everyone": any logged-in user, and a
        // system robot granted project:create, whose projects the first system admin
        // owns (a robot cannot own anything).
        let owner = match &ctx.principal {
            Principal::User(user) => user.id,
            Principal::Robot(_) if ctx.principal.may_system("project", "create") => {
                self.first_sysadmin().await?
            }
            Principal::Robot(_) => return Err(crate::access::forbidden(&ctx.principal)),
            _ => return Err(Error::new(ErrorCode::HarborUnauthorized, "UnAuthorized")),
        };
        let name = ProjectName::parse(name)
            .map_err(|e| Error::new(ErrorCode::BadRequest, e.to_string()))?;
        let mut metadata = clean_metadata(metadata)?;
        let public = metadata
            .get("public")
            .map(|v| v == "true")
            .unwrap_or(public);
        metadata.insert("public".into(), public.to_string());
        metadata
            .entry(crate::policy::allowlist::REUSE_SYS_KEY.into())
            .or_insert_with(|| "true".into());
        let storage_limit = policies.storage_limit.unwrap_or(-1);
        crate::policy::quota::check_limit(storage_limit)?;
        if let Some(list) = &policies.cve_allowlist {
            list.validated()?;
        }
        let created = self
            .meta
            .projects()
            .create_project_with_quota(
                NewProject {
                    name: name.clone(),
                    owner_id: portcullis_meta::UserId(owner),
                    public,
                    metadata,
                },
                storage_limit,
            )
            .await
            .map_err(|e| match e {
                portcullis_meta::Error::Conflict(_) => Error::new(
                    ErrorCode::Conflict,
                    format!("The project named {} already exists", name),
                ),
                other => other.into(),
            })?;
        // The creator becomes the project's admin.
        self.meta
            .members()
            .add_member(
                created.id,
                portcullis_meta::UserId(owner),
                Role::ProjectAdmin.id(),
            )
            .await?;
        if let Some(list) = &policies.cve_allowlist {
            self.policy
                .store_project_allowlist(created.id, list)
                .await?;
        }
        self.forget(name.as_str());
        Ok(created)
    }

    /// The system admin with the lowest id (Harbor's owner of projects robots create).
    async fn first_sysadmin(&self) -> Result<i64> {
        let mut page = 1;
        loop {
            let (users, total) = self.meta.users().list_users(page, 100).await?;
            if let Some(u) = users.iter().filter(|u| u.sysadmin).min_by_key(|u| u.id.0) {
                return Ok(u.id.0);
            }
            if users.is_empty() || page * 100 >= total {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    "no system administrator exists to own the project",
                ));
            }
            page += 1;
        }
    }

    pub async fn list_projects(
        &self,
        ctx: &RequestCtx,
        mut q: ProjectQuery,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Project>, u64)> {
        if !ctx.principal.may_system("project", "list") {
            // Private projects do not exist for those who cannot see them.
            let members = self
                .access
                .member_project_ids(&ctx.principal)
                .await?
                .into_iter()
                .map(ProjectId)
                .collect();
            q.visible_to = Some(members);
        }
        Ok(self
            .meta
            .projects()
            .list_projects(&q, page, page_size)
            .await?)
    }

    pub async fn update_project(
        &self,
        ctx: &RequestCtx,
        project: &Project,
        metadata: &BTreeMap<String, String>,
        policies: &ProjectPolicies,
    ) -> Result<Project> {
        let res = async {
            if !self
                .access
                .access_to(&ctx.principal, project)
                .await?
                .can("project", "update")
            {
                return Err(forbidden(&ctx.principal));
            }
            let metadata = clean_metadata(metadata)?;
            if let Some(list) = &policies.cve_allowlist {
                list.validated()?;
            }
            let p = self
                .meta
                .projects()
                .update_project_metadata(project.id, metadata)
                .await?;
            if let Some(list) = &policies.cve_allowlist {
                self.policy
                    .store_project_allowlist(project.id, list)
                    .await?;
            }
            self.forget(project.name.as_str());
            Ok(p)
        }
        .await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "project",
            project.name.as_str(),
            Some(project.id.0),
            res.is_ok(),
        );
        res
    }

    pub async fn delete_project(&self, ctx: &RequestCtx, project: &Project) -> Result<()> {
        let res = async {
            if !self
                .access
                .access_to(&ctx.principal, project)
                .await?
                .can("project", "delete")
            {
                return Err(forbidden(&ctx.principal));
            }
            self.meta
                .projects()
                .delete_project(project.id)
                .await
                .map_err(|e| match e {
                    portcullis_meta::Error::NotEmpty => Error::new(
                        ErrorCode::PreconditionFailed,
                        format!(
                            "the project {} contains repositories and cannot be deleted",
                            project.name
                        ),
                    ),
                    other => other.into(),
                })?;
            self.forget(project.name.as_str());
            Ok(())
        }
        .await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "project",
            project.name.as_str(),
            Some(project.id.0),
            res.is_ok(),
        );
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_rules() {
        let mut m = BTreeMap::new();
        m.insert("public".to_string(), "TRUE".to_string());
        m.insert("severity".to_string(), "High".to_string());
        m.insert("unknown".to_string(), "x".to_string());
        let c = clean_metadata(&m).unwrap();
        assert_eq!(c.get("public").unwrap(), "true");
        assert_eq!(c.get("severity").unwrap(), "high");
        assert!(!c.contains_key("unknown"));
        m.insert("auto_scan".to_string(), "yes".to_string());
        assert!(clean_metadata(&m).is_err());
    }
}
