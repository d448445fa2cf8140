//! Harbor's per-key project metadata API (`/projects/{p}/metadatas`): the same
//! metadata a project update carries, read and changed one key at a time, with the
//! `metadata` permissions of Harbor's roles.

use std::collections::BTreeMap;

use portcullis_meta::Project;
use portcullis_types::ErrorCode;

use super::{ProjectPolicies, Projects, clean_metadata, is_metadata_key};
use crate::access::forbidden;
use crate::context::RequestCtx;
use crate::error::{Error, Result};

impl Projects {
    /// The project's metadata (needs `metadata:list`), or one key of it
    /// (`metadata:read`; 404 when unset).
    pub async fn project_metadata(
        &self,
        ctx: &RequestCtx,
        project: &Project,
        key: Option<&str>,
    ) -> Result<BTreeMap<String, String>> {
        let action = if key.is_some() { "read" } else { "list" };
        self.may(ctx, project, action).await?;
        let Some(key) = key else {
            return Ok(project.metadata.clone());
        };
        match project.metadata.get(key) {
            Some(v) => Ok(BTreeMap::from([(key.to_string(), v.clone())])),
            None => Err(Error::new(
                ErrorCode::NotFound,
                format!("metadata {key} of project {} not found", project.name),
            )),
        }
    }

    /// Adds or changes keys (`metadata:create` or `metadata:update`): every key must be
    /// one Harbor knows, every value valid for it.
    pub async fn set_project_metadata(
        &self,
        ctx: &RequestCtx,
        project: &Project,
        changes: &BTreeMap<String, String>,
        action: &str,
    ) -> Result<Project> {
        self.may(ctx, project, action).await?;
        if changes.is_empty() {
            return Err(Error::new(ErrorCode::BadRequest, "no metadata given"));
        }
        if let Some(k) = changes.keys().find(|k| !is_metadata_key(k)) {
            return Err(Error::new(
                ErrorCode::BadRequest,
                format!("invalid metadata name {k:?}"),
            ));
        }
        clean_metadata(changes)?;
        self.update_project(ctx, project, changes, &ProjectPolicies::default())
            .await
    }

    /// Removes one key (`metadata:delete`); `public` cannot go, only change.
    pub async fn remove_project_metadata(
        &self,
        ctx: &RequestCtx,
        project: &Project,
        key: &str,
    ) -> Result<Project> {
        self.may(ctx, project, "delete").await?;
        if !project.metadata.contains_key(key) {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("metadata {key} of project {} not found", project.name),
            ));
        }
        if key == "public" {
            return Err(Error::new(
                ErrorCode::BadRequest,
                "the public flag cannot be removed; set it to true or false",
            ));
        }
        let res = self
            .meta
            .projects()
            .remove_project_metadata(project.id, key)
            .await
            .map_err(Error::from);
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "project",
            project.name.as_str(),
            Some(project.id.0),
            res.is_ok(),
        );
        let p = res?;
        self.forget(project.name.as_str());
        Ok(p)
    }

    async fn may(&self, ctx: &RequestCtx, project: &Project, action: &str) -> Result<()> {
        if self
            .access
            .access_to(&ctx.principal, project)
            .await?
            .can("metadata", action)
        {
            Ok(())
        } else {
            Err(forbidden(&ctx.principal))
        }
    }
}
