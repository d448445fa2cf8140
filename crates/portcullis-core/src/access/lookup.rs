//! Resolving the project, repository and artifact a request names, checking on the way
//! that the caller may act there.

use portcullis_meta::{Artifact, Project, Repository};
use portcullis_types::{ErrorCode, Reference, RepoName};

use super::{Access, ProjectAccess};
use crate::auth::Principal;
use crate::error::{Error, Result};

/// The full repository name of `path` (the part after the project, already decoded from
/// Harbor's double URL encoding) inside `project`.
pub fn repo_name(project: &str, path: &str) -> Result<RepoName> {
    RepoName::parse(&format!("{project}/{path}")).map_err(|e| {
        Error::new(
            ErrorCode::BadRequest,
            format!("invalid repository name: {e}"),
        )
    })
}

pub(crate) fn artifact_missing(reference: &str) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("artifact {reference} not found"),
    )
}

impl Access {
    /// The project and repository named in a Harbor path, when the caller may see them
    /// and do `action` on `resource` there.
    pub async fn repository_for(
        &self,
        principal: &Principal,
        project: &str,
        repository: &str,
        resource: &str,
        action: &str,
    ) -> Result<(Project, ProjectAccess, Repository)> {
        let (p, access) = self
            .project_for(principal, project, true, resource, action)
            .await?;
        let name = repo_name(p.name.as_str(), repository)?;
        let repo = self
            .meta
            .repositories()
            .get_repository(&name)
            .await?
            .ok_or_else(|| {
                Error::new(ErrorCode::NotFound, format!("repository {name} not found"))
            })?;
        if repo.project_id != p.id {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("repository {name} not found"),
            ));
        }
        Ok((p, access, repo))
    }

    /// The artifact `reference` (a tag or a digest) names in `repo`.
    pub async fn find_artifact(&self, repo: &Repository, reference: &str) -> Result<Artifact> {
        let found = match Reference::parse(reference)
            .map_err(|_| Error::new(ErrorCode::BadRequest, "invalid artifact reference"))?
        {
            Reference::Digest(d) => self.meta.artifacts().get_artifact(repo.id, &d).await?,
            Reference::Tag(t) => self.meta.artifacts().resolve_tag(repo.id, &t).await?,
        };
        found.ok_or_else(|| artifact_missing(reference))
    }
}
