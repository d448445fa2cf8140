//! Harbor's browsing API below HTTP: repositories, search and project summaries. Every
//! method checks the caller's permission from the one table (`rbac`); private projects
//! the caller cannot see are reported missing.

use std::collections::HashMap;

use portcullis_meta::{Project, ProjectId, ProjectQuery, Repository};

use crate::context::RequestCtx;
use crate::error::Result;
use crate::events::{Event, EventType};
use crate::rbac::Role;
use crate::registry::Registry;

/// Member counts of a project by role, and its repository count (Harbor's summary).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProjectSummary {
    pub repo_count: u64,
    pub project_admin_count: u64,
    pub maintainer_count: u64,
    pub developer_count: u64,
    pub guest_count: u64,
    pub limited_guest_count: u64,
    /// The storage quota, for callers who may read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<SummaryQuota>,
}

/// Harbor's `ResourceList` with the one resource Portcullis limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StorageResource {
    pub storage: i64,
}

/// The quota part of the project summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SummaryQuota {
    pub hard: StorageResource,
    pub used: StorageResource,
}

/// A repository as search results show it, with its project.
#[derive(Debug, Clone)]
pub struct FoundRepository {
    pub repository: Repository,
    pub project_name: String,
    pub project_public: bool,
}

pub use crate::access::lookup::repo_name;

impl Registry {
    /// Repositories of every project the caller may see (`GET /api/v2.0/repositories`).
    pub async fn list_all_repositories(
        &self,
        ctx: &RequestCtx,
        name_contains: Option<&str>,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Repository>, u64)> {
        let visible = self.access.visible_project_ids(&ctx.principal).await?;
        let ids: Option<Vec<ProjectId>> = visible.map(|v| v.into_iter().map(ProjectId).collect());
        Ok(self
            .meta
            .repositories()
            .list_repositories_in(ids.as_deref(), name_contains, page, page_size)
            .await?)
    }

    /// The project's repositories (needs `repository:list`).
    pub async fn list_project_repositories(
        &self,
        ctx: &RequestCtx,
        project: &str,
        name_contains: Option<&str>,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<Repository>, u64)> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, true, "repository", "list")
            .await?;
        Ok(self
            .meta
            .repositories()
            .list_repositories(Some(p.id), name_contains, page, page_size)
            .await?)
    }

    /// Sets a repository's description (needs `repository:update`).
    pub async fn describe_repository(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        description: &str,
    ) -> Result<()> {
        let (p, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "repository", "update")
            .await?;
        let res = self
            .meta
            .repositories()
            .update_repository_description(r.id, description)
            .await;
        self.audit_log.action(
            &ctx.audit_actor(),
            "update",
            "repository",
            r.name.as_str(),
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Deletes a repository with its artifacts and tags (needs `repository:delete`).
    pub async fn delete_repository(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
    ) -> Result<()> {
        let (p, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "repository", "delete")
            .await?;
        // A repository holding a tag an immutable rule protects stays.
        let tags = self.meta.tags().list_tags(r.id, None, None).await?;
        self.policy
            .check_tags_mutable(p.id.0, &r.name, tags.iter().map(String::as_str))
            .await
            .map_err(crate::policy::rules::as_precondition)?;
        // What goes, for the DELETE_ARTIFACT events Harbor sends (one per artifact).
        let mut gone = Vec::new();
        for page in 1.. {
            let (list, _) = self
                .meta
                .artifacts()
                .list_artifacts(r.id, page, 500)
                .await?;
            let last = list.len() < 500;
            for a in list {
                let tag = self.meta.tags().tags_of(a.id).await?.into_iter().next();
                gone.push((a.digest, tag.map(|t| t.name.to_string())));
            }
            if last {
                break;
            }
        }
        // The DELETE_ARTIFACT events are written with the delete, in its transaction.
        let project = crate::ProjectInfo::from(&p);
        let events = gone
            .iter()
            .map(|(digest, tag)| {
                Event::artifact(
                    EventType::DeleteArtifact,
                    (&project).into(),
                    r.name.as_str(),
                    digest.as_str(),
                    tag.as_deref(),
                    &ctx.actor,
                )
                .caused_by(ctx)
            })
            .collect();
        let (writes, after) = self.outbox.prepare(events).await;
        let res = self
            .meta
            .repositories()
            .delete_repository(r.id, &writes)
            .await;
        self.projects.forget(p.name.as_str());
        if res.is_ok() {
            self.artifacts_removed().await;
            self.outbox.hand_over(&after).await;
        }
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "repository",
            r.name.as_str(),
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Projects and repositories whose names contain `q`, among those the caller may see
    /// (`GET /api/v2.0/search`); at most 100 of each.
    pub async fn search(
        &self,
        ctx: &RequestCtx,
        q: &str,
    ) -> Result<(Vec<Project>, Vec<FoundRepository>)> {
        let query = ProjectQuery {
            name_contains: Some(q.to_string()),
            ..Default::default()
        };
        let (projects, _) = self.projects.list_projects(ctx, query, 1, 100).await?;
        let (repos, _) = self.list_all_repositories(ctx, Some(q), 1, 100).await?;
        let mut owners: HashMap<ProjectId, (String, bool)> = HashMap::new();
        let mut found = Vec::with_capacity(repos.len());
        for r in repos {
            let (name, public) = match owners.get(&r.project_id) {
                Some(x) => x.clone(),
                None => {
                    let Some(p) = self.meta.projects().get_project(r.project_id).await? else {
                        continue;
                    };
                    let x = (p.name.to_string(), p.public);
                    owners.insert(r.project_id, x.clone());
                    x
                }
            };
            found.push(FoundRepository {
                repository: r,
                project_name: name,
                project_public: public,
            });
        }
        Ok((projects, found))
    }

    /// Repository and member counts of a project (needs `project:read`).
    pub async fn project_summary(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
    ) -> Result<ProjectSummary> {
        let (p, access) = self
            .access
            .project_for(&ctx.principal, project, is_name, "project", "read")
            .await?;
        let mut s = ProjectSummary {
            repo_count: p.repo_count,
            ..Default::default()
        };
        if access.can("quota", "read")
            && let Some(q) = self.meta.quotas().project_quota(p.id).await?
        {
            s.quota = Some(SummaryQuota {
                hard: StorageResource { storage: q.hard },
                used: StorageResource { storage: q.used },
            });
        }
        for m in self.meta.members().list_members(p.id, None).await? {
            match Role::from_id(m.role_id) {
                Some(Role::ProjectAdmin) => s.project_admin_count += 1,
                Some(Role::Maintainer) => s.maintainer_count += 1,
                Some(Role::Developer) => s.developer_count += 1,
                Some(Role::Guest) => s.guest_count += 1,
                Some(Role::LimitedGuest) => s.limited_guest_count += 1,
                None => {}
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths_join_the_project() {
        assert_eq!(repo_name("lib", "a/b").unwrap().as_str(), "lib/a/b");
        assert_eq!(repo_name("lib", "app").unwrap().as_str(), "lib/app");
        assert!(repo_name("lib", "Bad Name").is_err());
    }
}
