//! Authorization for registry requests. Rules in force until project roles exist: the
//! system admin may do everything; anyone may pull from a public project; everything
//! else is refused. A private project is invisible to those who cannot pull from it.

use portcullis_types::{ErrorCode, RepoName};

use crate::auth::{Actions, Principal};
use crate::error::{Error, Result};
use crate::registry::Registry;

/// The project facts authorization needs, cached by name.
#[derive(Debug, Clone)]
pub struct ProjectInfo {
    pub id: i64,
    pub name: String,
    pub public: bool,
}

/// Why a request was refused; the HTTP layer turns `Challenge` into a 401 with a
/// `WWW-Authenticate` header naming the scope.
#[derive(Debug)]
pub enum Refusal {
    /// No identity was presented: ask the client to authenticate.
    Challenge,
    /// The caller may see the repository but not do this.
    Denied,
    /// The caller may not know that the repository exists (or it does not).
    NotFound(Error),
}

impl Registry {
    pub async fn project_info(&self, name: &str) -> Result<Option<ProjectInfo>> {
        if let Some(hit) = self.project_cache.get(name) {
            return Ok(hit);
        }
        let p = self.meta.get_project_by_name(name).await?;
        let info = p.map(|p| ProjectInfo {
            id: p.id.0,
            name: p.name.to_string(),
            public: p.public,
        });
        self.project_cache.put(name, info.clone());
        Ok(info)
    }

    /// What `principal` may do in a project (`None`: the project does not exist).
    pub fn actions_in(
        &self,
        principal: &Principal,
        project: &ProjectInfo,
        repo: Option<&str>,
    ) -> Actions {
        if let Some(granted) = repo.and_then(|r| principal.token_actions("repository", r)) {
            return granted;
        }
        if matches!(principal, Principal::Token { .. }) {
            return Actions::NONE;
        }
        if principal.is_sysadmin() {
            return Actions::ALL;
        }
        if project.public {
            Actions::PULL
        } else {
            Actions::NONE
        }
    }

    /// What the caller may do on `repo` right now, for the token service: the
    /// intersection with the request is taken by the caller.
    pub async fn allowed_on(&self, principal: &Principal, repo: &RepoName) -> Result<Actions> {
        Ok(match self.project_info(repo.project()).await? {
            Some(p) => self.actions_in(principal, &p, Some(repo.as_str())),
            None => Actions::NONE,
        })
    }

    /// Checks that `principal` may do `needed` on `repo`.
    pub async fn authorize(
        &self,
        principal: &Principal,
        repo: &RepoName,
        needed: Actions,
    ) -> Result<ProjectInfo, Refusal> {
        let project = self
            .project_info(repo.project())
            .await
            .map_err(Refusal::NotFound)?;
        let unknown = || {
            Error::new(
                ErrorCode::NameUnknown,
                format!("repository name not known to registry: {}", repo),
            )
            .with_detail(serde_json::json!({ "name": repo.as_str() }))
        };
        let Some(project) = project else {
            if principal.is_anonymous() {
                return Err(Refusal::Challenge);
            }
            // Only someone who could create it learns that the project itself is missing.
            let err = if principal.is_sysadmin() || matches!(principal, Principal::Token { .. }) {
                Error::new(
                    ErrorCode::NameUnknown,
                    format!(
                        "project {} not found: create it before pushing",
                        repo.project()
                    ),
                )
                .with_detail(serde_json::json!({ "name": repo.as_str() }))
            } else {
                unknown()
            };
            return Err(Refusal::NotFound(err));
        };
        let allowed = self.actions_in(principal, &project, Some(repo.as_str()));
        if allowed.contains(needed) {
            return Ok(project);
        }
        if principal.is_anonymous() {
            return Err(Refusal::Challenge);
        }
        if allowed.is_empty() {
            return Err(Refusal::NotFound(unknown()));
        }
        Err(Refusal::Denied)
    }
}

impl Registry {
    /// Projects whose repositories the caller may list; `None` means all of them.
    pub async fn visible_project_ids(&self, principal: &Principal) -> Result<Option<Vec<i64>>> {
        if principal.is_sysadmin()
            || principal
                .token_actions("registry", "catalog")
                .is_some_and(|a| !a.is_empty())
        {
            return Ok(None);
        }
        let query = portcullis_meta::ProjectQuery {
            public: Some(true),
            ..Default::default()
        };
        let mut ids = Vec::new();
        let mut page = 1;
        loop {
            let (batch, total) = self.meta.list_projects(&query, page, 500).await?;
            ids.extend(batch.iter().map(|p| p.id.0));
            if batch.is_empty() || ids.len() as u64 >= total {
                break;
            }
            page += 1;
        }
        Ok(Some(ids))
    }
}
