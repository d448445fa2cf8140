//! Labels as Harbor has them: global labels (scope `g`) managed by system admins and
//! visible to every logged-in user, project labels (scope `p`) managed under the
//! project's `label` permissions; artifacts carry either kind (`artifact-label`).

use portcullis_meta::{Label, LabelQuery, NewLabel};
use portcullis_types::ErrorCode;

use crate::access::forbidden;
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use std::sync::Arc;

use portcullis_meta::MetaStore;

use crate::access::Access;
use crate::audit::AuditRecorder;

/// The labels service.
pub struct Labels {
    meta: MetaStore,
    access: Arc<Access>,
    audit_log: Arc<AuditRecorder>,
}

/// Global scope.
pub const GLOBAL: &str = "g";
/// Project scope.
pub const PROJECT: &str = "p";

/// A label to create, or the new values of one (scope and project cannot change).
#[derive(Debug, Clone, Default)]
pub struct LabelRequest {
    pub name: String,
    pub description: String,
    pub color: String,
    pub scope: String,
    pub project_id: Option<i64>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BadRequest, message)
}

fn label_missing(id: i64) -> Error {
    Error::new(ErrorCode::NotFound, format!("label {id} not found"))
}

/// Checks name and color as Harbor does: a name of 1–128 characters; a color of at most
/// 16 characters, not otherwise checked (Harbor stores what it is given: its UI writes
/// `#RRGGBB`, the Terraform provider's default is the string `false`).
fn validate(name: &str, color: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(bad("the label name must be 1 to 128 characters"));
    }
    if color.chars().count() > 16 {
        return Err(bad(format!(
            "invalid label color {color:?}: at most 16 characters, such as #RRGGBB"
        )));
    }
    Ok(())
}

impl Labels {
    pub fn new(meta: MetaStore, access: Arc<Access>, audit_log: Arc<AuditRecorder>) -> Self {
        Labels {
            meta,
            access,
            audit_log,
        }
    }

    /// Whether the caller may do `action` on label `l`: global labels are read by any
    /// logged-in caller and changed by system admins; project labels follow the project's
    /// `label` permissions. Invisible projects make their labels `404`.
    async fn label_allowed(&self, ctx: &RequestCtx, l: &Label, action: &str) -> Result<()> {
        match l.project_id {
            None => {
                let reading = matches!(action, "read" | "list");
                if ctx.principal.is_sysadmin() || (reading && !ctx.principal.is_anonymous()) {
                    Ok(())
                } else {
                    Err(forbidden(&ctx.principal))
                }
            }
            Some(p) => {
                let (_, _) = self
                    .access
                    .project_for(&ctx.principal, &p.0.to_string(), false, "label", action)
                    .await
                    .map_err(|e| {
                        if e.code == ErrorCode::NotFound {
                            label_missing(l.id)
                        } else {
                            e
                        }
                    })?;
                Ok(())
            }
        }
    }

    /// The label `id`, when the caller may read it.
    pub async fn get_label(&self, ctx: &RequestCtx, id: i64) -> Result<Label> {
        let l = self
            .meta
            .labels()
            .get_label(id)
            .await?
            .ok_or_else(|| label_missing(id))?;
        self.label_allowed(ctx, &l, "read").await?;
        Ok(l)
    }

    /// Creates a label (`201`): global ones need a system admin, project ones
    /// `label:create` in the project.
    pub async fn create_label(&self, ctx: &RequestCtx, req: LabelRequest) -> Result<Label> {
        validate(&req.name, &req.color)?;
        let project_id = match req.scope.as_str() {
            GLOBAL => {
                if !ctx.principal.is_sysadmin() {
                    return Err(forbidden(&ctx.principal));
                }
                None
            }
            PROJECT => {
                let id = req
                    .project_id
                    .filter(|id| *id > 0)
                    .ok_or_else(|| bad("project_id is required for a label of scope p"))?;
                let (p, _) = self
                    .access
                    .project_for(&ctx.principal, &id.to_string(), false, "label", "create")
                    .await?;
                Some(p.id)
            }
            other => return Err(bad(format!("invalid scope {other:?}: use g or p"))),
        };
        let res = self
            .meta
            .labels()
            .create_label(&NewLabel {
                name: req.name.trim().to_string(),
                description: req.description,
                color: req.color,
                scope: req.scope.clone(),
                project_id,
            })
            .await
            .map_err(Error::from);
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "label",
            req.name.trim(),
            project_id.map(|p| p.0),
            res.is_ok(),
        );
        res
    }

    /// A page of labels of one scope: global, or of one project the caller may see.
    pub async fn list_labels(
        &self,
        ctx: &RequestCtx,
        scope: &str,
        project_id: Option<i64>,
        name: Option<&str>,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Label>, u64)> {
        let mut q = LabelQuery {
            name_contains: name.map(str::to_string),
            scope: Some(scope.to_string()),
            ..Default::default()
        };
        match scope {
            GLOBAL => {
                if ctx.principal.is_anonymous() {
                    return Err(forbidden(&ctx.principal));
                }
            }
            PROJECT => {
                let id = project_id
                    .filter(|id| *id > 0)
                    .ok_or_else(|| bad("project_id is required when scope is p"))?;
                let (p, _) = self
                    .access
                    .project_for(&ctx.principal, &id.to_string(), false, "label", "list")
                    .await?;
                q.project_id = Some(p.id);
            }
            other => return Err(bad(format!("invalid scope {other:?}: use g or p"))),
        }
        Ok(self.meta.labels().list_labels(&q, page, page_size).await?)
    }

    /// Changes a label's name, description or color.
    pub async fn update_label(
        &self,
        ctx: &RequestCtx,
        id: i64,
        req: LabelRequest,
    ) -> Result<Label> {
        let l = self
            .meta
            .labels()
            .get_label(id)
            .await?
            .ok_or_else(|| label_missing(id))?;
        self.label_allowed(ctx, &l, "update").await?;
        let name = if req.name.trim().is_empty() {
            l.name.clone()
        } else {
            req.name.trim().to_string()
        };
        validate(&name, &req.color)?;
        let res = self
            .meta
            .labels()
            .update_label(id, &name, &req.description, &req.color)
            .await
            .map_err(Error::from);
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "label",
            &name,
            l.project_id.map(|p| p.0),
            res.is_ok(),
        );
        res
    }

    /// Deletes a label, taking it off every artifact.
    pub async fn delete_label(&self, ctx: &RequestCtx, id: i64) -> Result<()> {
        let l = self
            .meta
            .labels()
            .get_label(id)
            .await?
            .ok_or_else(|| label_missing(id))?;
        self.label_allowed(ctx, &l, "delete").await?;
        let res = self
            .meta
            .labels()
            .delete_label(id)
            .await
            .map_err(Error::from);
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "label",
            &l.name,
            l.project_id.map(|p| p.0),
            res.is_ok(),
        );
        res.map(|_| ())
    }

    /// Adds a global label or a label of the artifact's own project to an artifact
    /// (needs `artifact-label:create`); `409` when it already carries it.
    pub async fn add_artifact_label(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
        label_id: i64,
    ) -> Result<()> {
        let (p, _, r) = self
            .access
            .repository_for(
                &ctx.principal,
                project,
                repository,
                "artifact-label",
                "create",
            )
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        let l = self
            .meta
            .labels()
            .get_label(label_id)
            .await?
            .ok_or_else(|| label_missing(label_id))?;
        if l.project_id.is_some_and(|lp| lp != p.id) {
            return Err(bad(format!(
                "label {label_id} belongs to another project and cannot be added here"
            )));
        }
        let res = self
            .meta
            .labels()
            .add_artifact_label(a.id, label_id)
            .await
            .map_err(Error::from);
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "artifact-label",
            &format!("{}@{}:{}", r.name, a.digest, l.name),
            Some(p.id.0),
            res.is_ok(),
        );
        res
    }

    /// Takes a label off an artifact (needs `artifact-label:delete`).
    pub async fn remove_artifact_label(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
        label_id: i64,
    ) -> Result<()> {
        let (p, _, r) = self
            .access
            .repository_for(
                &ctx.principal,
                project,
                repository,
                "artifact-label",
                "delete",
            )
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        let removed = self
            .meta
            .labels()
            .remove_artifact_label(a.id, label_id)
            .await?;
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "artifact-label",
            &format!("{}@{}:{label_id}", r.name, a.digest),
            Some(p.id.0),
            removed,
        );
        if removed {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::NotFound,
                format!("label {label_id} is not added to the artifact"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_colors() {
        assert!(validate("qa-passed", "#61717D").is_ok());
        assert!(validate("x", "").is_ok());
        assert!(validate("x", "#abc").is_ok());
        assert!(validate("", "").is_err());
        assert!(validate("   ", "").is_err());
        assert!(validate(&"n".repeat(129), "").is_err());
        // Harbor stores any colour string; the Terraform provider's default is "false".
        assert!(validate("x", "false").is_ok());
        assert!(validate("x", "red").is_ok());
        assert!(validate("x", &"#".repeat(17)).is_err());
    }
}
