//! Artifacts, their tags and accessories through Harbor's API, and promotion by copy.
//! Permission checks come from the one table (`rbac`); changes are audited.

use portcullis_meta::{
    Artifact, ArtifactFilter, ArtifactReference, Project, ProjectId, Repository, TagRecord,
};
use portcullis_types::{Digest, ErrorCode, Reference, RepoName, Tag, media};

use crate::access::lookup::artifact_missing;
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::registry::Registry;

/// An artifact with what Harbor's artifact JSON shows beside it.
#[derive(Debug, Clone)]
pub struct ArtifactView {
    pub artifact: Artifact,
    pub project_id: ProjectId,
    pub tags: Vec<TagRecord>,
    /// Index children, with the id of the child artifact in the same repository.
    pub references: Vec<(ArtifactReference, Option<portcullis_meta::ArtifactId>)>,
    /// Labels the artifact carries.
    pub labels: Vec<portcullis_meta::Label>,
}

/// Harbor's artifact type, derived as Harbor does from the config media type or the
/// manifest's `artifactType`: IMAGE, CHART, CNAB, SIGNATURE, SBOM or UNKNOWN.
pub fn harbor_type(a: &Artifact) -> &'static str {
    const SBOM: &str = "application/vnd.goharbor.harbor.sbom.v1";
    const CNAB: &str = "application/vnd.cnab.manifest.v1";
    match a.effective_type() {
        Some(media::OCI_CONFIG | media::DOCKER_CONFIG) => "IMAGE",
        Some(media::HELM_CONFIG) => "CHART",
        Some(CNAB) => "CNAB",
        Some(media::COSIGN_SIGNATURE_ARTIFACT | media::NOTATION_SIGNATURE) => "SIGNATURE",
        Some(SBOM) => "SBOM",
        // Image indexes and manifest lists are images to Harbor.
        None if a.media_type == media::OCI_INDEX || a.media_type == media::DOCKER_LIST => "IMAGE",
        _ => "UNKNOWN",
    }
}

/// Harbor's accessory type of an artifact that has a subject.
pub fn accessory_type(a: &Artifact) -> &'static str {
    match a.effective_type() {
        Some(media::COSIGN_SIGNATURE_ARTIFACT) => "signature.cosign",
        Some(media::NOTATION_SIGNATURE) => "signature.notation",
        Some("application/vnd.goharbor.harbor.sbom.v1") => "harbor.sbom",
        // The only accessories without a subject are cosign's tag-attached signatures.
        _ if a.subject.is_none() => "signature.cosign",
        _ => "subject.accessory",
    }
}

/// Parses Harbor's `from` parameter: `<project>/<repo>@<digest>` or `<project>/<repo>:<tag>`.
pub fn parse_from(from: &str) -> Result<(RepoName, Reference)> {
    let bad = || {
        Error::new(
            ErrorCode::BadRequest,
            format!("invalid from {from:?}: use <project>/<repository>@<digest> or :<tag>"),
        )
    };
    let (name, reference) = if let Some((n, d)) = from.split_once('@') {
        (n, Reference::Digest(Digest::parse(d).map_err(|_| bad())?))
    } else {
        let (n, t) = from.rsplit_once(':').ok_or_else(bad)?;
        (n, Reference::Tag(Tag::parse(t).map_err(|_| bad())?))
    };
    Ok((RepoName::parse(name).map_err(|_| bad())?, reference))
}

impl Registry {
    /// Tags and index children of an artifact, for its JSON.
    pub async fn view_artifact(
        &self,
        project: ProjectId,
        artifact: Artifact,
    ) -> Result<ArtifactView> {
        let tags = self.meta.tags().tags_of(artifact.id).await?;
        let labels = self.meta.labels().labels_of(artifact.id).await?;
        let mut references = Vec::new();
        for child in self.meta.artifacts().children_of(artifact.id).await? {
            let id = self
                .meta
                .artifacts()
                .get_artifact(artifact.repository_id, &child.digest)
                .await?
                .map(|c| c.id);
            references.push((child, id));
        }
        Ok(ArtifactView {
            artifact,
            project_id: project,
            tags,
            references,
            labels,
        })
    }

    /// A page of a repository's artifacts (needs `artifact:list`).
    pub async fn list_artifacts(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        filter: &ArtifactFilter,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<ArtifactView>, u64)> {
        let (p, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "artifact", "list")
            .await?;
        let (list, total) = self
            .meta
            .artifacts()
            .find_artifacts(r.id, filter, page, page_size)
            .await?;
        let mut out = Vec::with_capacity(list.len());
        for a in list {
            out.push(self.view_artifact(p.id, a).await?);
        }
        Ok((out, total))
    }

    /// A page of the artifacts of every repository of a project, each with its
    /// repository's name (needs `artifact:list` there; Harbor's
    /// `/projects/{p}/artifacts`).
    #[allow(clippy::too_many_arguments)]
    pub async fn list_project_artifacts(
        &self,
        ctx: &RequestCtx,
        project: &str,
        is_name: bool,
        filter: &ArtifactFilter,
        latest_in_repository: bool,
        page: u64,
        page_size: u64,
    ) -> Result<(Vec<(ArtifactView, String)>, u64)> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, is_name, "artifact", "list")
            .await?;
        let (list, total) = self
            .meta
            .artifacts()
            .find_project_artifacts(p.id, latest_in_repository, filter, page, page_size)
            .await?;
        let mut names = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(list.len());
        for a in list {
            let repo = a.repository_id;
            if let std::collections::hash_map::Entry::Vacant(e) = names.entry(repo) {
                let name = self
                    .meta
                    .repositories()
                    .get_repository_by_id(repo)
                    .await?
                    .map(|r| r.name.to_string())
                    .unwrap_or_default();
                e.insert(name);
            }
            let name = names[&repo].clone();
            out.push((self.view_artifact(p.id, a).await?, name));
        }
        Ok((out, total))
    }

    /// One artifact by tag or digest (needs `artifact:read`).
    pub async fn get_artifact(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
    ) -> Result<ArtifactView> {
        let (p, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "artifact", "read")
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        self.view_artifact(p.id, a).await
    }

    /// Deletes an artifact with its tags (needs `artifact:delete`).
    pub async fn delete_artifact(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
    ) -> Result<()> {
        let (p, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "artifact", "delete")
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        let resource = format!("{}@{}", r.name, a.digest);
        // A digest reference has a colon; a tag cannot.
        let tag = (!reference.contains(':')).then_some(reference);
        let ctx = crate::RequestCtx {
            principal: ctx.principal.clone(),
            actor: ctx.actor.clone(),
            client_ip: ctx.client_ip.clone(),
            request_id: crate::request_id::current(),
            host: None,
        };
        let event = crate::Event::artifact(
            crate::EventType::DeleteArtifact,
            (&info(&p)).into(),
            r.name.as_str(),
            a.digest.as_str(),
            tag,
            &ctx.actor,
        )
        .caused_by(&ctx)
        .audited("delete", "artifact", &resource);
        let res = self
            .remove_manifest(&r.name, &Reference::Digest(a.digest.clone()), Some(&event))
            .await
            .map_err(crate::policy::rules::as_precondition);
        if res.is_err() {
            self.audit_log.action(
                &ctx.audit_actor(),
                "delete",
                "artifact",
                &resource,
                Some(p.id.0),
                false,
            );
        }
        res
    }

    /// The tags of an artifact (needs `tag:list`).
    pub async fn artifact_tags(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
    ) -> Result<Vec<TagRecord>> {
        let (_, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "tag", "list")
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        Ok(self.meta.tags().tags_of(a.id).await?)
    }

    /// Tags an artifact (needs `tag:create`); `409` when the tag exists in the repository.
    pub async fn create_tag(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
        tag: &str,
    ) -> Result<()> {
        let (p, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "tag", "create")
            .await?;
        let tag = Tag::parse(tag).map_err(|e| Error::new(ErrorCode::BadRequest, e.to_string()))?;
        let a = self.access.find_artifact(&r, reference).await?;
        let res = self.meta.tags().create_tag(r.id, a.id, &tag).await;
        self.projects.forget(p.name.as_str());
        let resource = format!("{}:{}", r.name, tag);
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "tag",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        Ok(res?)
    }

    /// Removes a tag of an artifact (needs `tag:delete`); the artifact stays.
    pub async fn delete_tag(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
        tag: &str,
    ) -> Result<()> {
        let (p, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "tag", "delete")
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        let tag = Tag::parse(tag).map_err(|_| artifact_missing(tag))?;
        let on_artifact = self
            .meta
            .tags()
            .get_tag(r.id, &tag)
            .await?
            .is_some_and(|t| t.artifact_id == a.id);
        if !on_artifact {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("tag {tag} not found on the artifact"),
            ));
        }
        let res = self
            .remove_manifest(&r.name, &Reference::Tag(tag.clone()), None)
            .await
            .map_err(crate::policy::rules::as_precondition);
        let resource = format!("{}:{}", r.name, tag);
        self.audit_log.action(
            &ctx.audit_actor(),
            "delete",
            "tag",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        res
    }

    /// Artifacts of the repository whose subject is this artifact: signatures, SBOMs
    /// (needs `accessory:list`).
    pub async fn accessories(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        reference: &str,
    ) -> Result<(Repository, Artifact, Vec<Artifact>)> {
        let (_, _, r) = self
            .access
            .repository_for(&ctx.principal, project, repository, "accessory", "list")
            .await?;
        let a = self.access.find_artifact(&r, reference).await?;
        let mut list = self
            .meta
            .artifacts()
            .referrers(r.id, &a.digest, None)
            .await?;
        // cosign without the referrers API attaches its signature by tag.
        if let Ok(tag) = Tag::parse(&portcullis_trust::cosign::signature_tag(&a.digest))
            && let Some(sig) = self.meta.artifacts().resolve_tag(r.id, &tag).await?
            && !list.iter().any(|x| x.id == sig.id)
        {
            list.push(sig);
        }
        Ok((r, a, list))
    }

    /// Copies the artifact `from` names into `project/repository` (Harbor's promotion),
    /// with its tags: needs `artifact:create` there and pull access to the source, which stays invisible
    /// (`404`) otherwise. Index children are copied first. Only metadata is written; the
    /// blobs are linked. Returns the destination project and the copy.
    pub async fn copy_artifact(
        &self,
        ctx: &RequestCtx,
        project: &str,
        repository: &str,
        from: &str,
    ) -> Result<(Project, Artifact)> {
        let (p, _) = self
            .access
            .project_for(&ctx.principal, project, true, "artifact", "create")
            .await?;
        let dest_name = crate::browse::repo_name(p.name.as_str(), repository)?;
        let (src_name, reference) = parse_from(from)?;
        let source = self.source_artifact(ctx, &src_name, &reference).await?;
        let dest = self
            .meta
            .repositories()
            .ensure_repository(p.id, &dest_name)
            .await
            .map_err(Error::from)?;
        let res = match self.copy_order(&source, dest.id).await {
            Ok(order) => match self
                .check_copy_tags(p.id.0, &dest_name, dest.id, &source)
                .await
            {
                Ok(()) => Ok(order),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        // The copy's PUSH_ARTIFACT event is written with it, in its transaction.
        let tag = match &reference {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        let event = crate::Event::artifact(
            crate::EventType::PushArtifact,
            (&info(&p)).into(),
            dest_name.as_str(),
            source.digest.as_str(),
            tag,
            &ctx.actor,
        )
        .caused_by(ctx);
        let (writes, after) = self.outbox.prepare(vec![event]).await;
        let res = match res {
            Ok(order) => self
                .meta
                .artifacts()
                .copy_artifacts(&order, dest.id, true, &writes)
                .await
                .map(|(copy, _)| copy)
                .map_err(Error::from),
            Err(e) => Err(e),
        };
        self.projects.forget(p.name.as_str());
        let resource = format!("{}@{}", dest_name, source.digest);
        if res.is_ok() {
            self.outbox.hand_over(&after).await;
        }
        self.audit_log.action(
            &ctx.audit_actor(),
            "create",
            "artifact",
            &resource,
            Some(p.id.0),
            res.is_ok(),
        );
        Ok((p, res?))
    }

    async fn source_artifact(
        &self,
        ctx: &RequestCtx,
        name: &RepoName,
        reference: &Reference,
    ) -> Result<Artifact> {
        let missing = || {
            artifact_missing(&format!(
                "{name}{}",
                match reference {
                    Reference::Digest(d) => format!("@{d}"),
                    Reference::Tag(t) => format!(":{t}"),
                }
            ))
        };
        let Some(info) = self.access.project_info(name.project()).await? else {
            return Err(missing());
        };
        let access = self
            .access
            .project_access(&ctx.principal, &info, None)
            .await?;
        if !access.can("repository", "pull") {
            return Err(missing());
        }
        self.meta
            .artifacts()
            .resolve(name, reference)
            .await?
            .ok_or_else(missing)
    }

    /// Refuses a copy that would move a destination tag an immutable rule protects.
    async fn check_copy_tags(
        &self,
        project: i64,
        dest_name: &RepoName,
        dest: portcullis_meta::RepositoryId,
        source: &Artifact,
    ) -> Result<()> {
        let mut moved = Vec::new();
        for t in self.meta.tags().tags_of(source.id).await? {
            if let Some(existing) = self.meta.artifacts().resolve_tag(dest, &t.name).await?
                && existing.digest != source.digest
            {
                moved.push(t.name);
            }
        }
        self.policy
            .check_tags_mutable(project, dest_name, moved.iter().map(|t| t.as_str()))
            .await
    }

    /// The artifacts a copy of `source` into `dest` must write, children before the
    /// indexes that list them; children `dest` already holds are left out.
    async fn copy_order(
        &self,
        source: &Artifact,
        dest: portcullis_meta::RepositoryId,
    ) -> Result<Vec<portcullis_meta::ArtifactId>> {
        let mut stack = vec![(source.clone(), false)];
        let mut order = Vec::new();
        // Iterative post-order walk: children before their index.
        while let Some((a, expanded)) = stack.pop() {
            if expanded {
                if !order.contains(&a.id) {
                    order.push(a.id);
                }
                continue;
            }
            stack.push((a.clone(), true));
            for child in self.meta.artifacts().children_of(a.id).await? {
                if self
                    .meta
                    .artifacts()
                    .get_artifact(dest, &child.digest)
                    .await?
                    .is_some()
                {
                    continue;
                }
                let c = self
                    .meta
                    .artifacts()
                    .get_artifact(a.repository_id, &child.digest)
                    .await?
                    .ok_or_else(|| artifact_missing(child.digest.as_str()))?;
                stack.push((c, false));
            }
        }
        Ok(order)
    }
}

/// What events need to know of a project.
pub(crate) fn info(p: &Project) -> crate::ProjectInfo {
    crate::ProjectInfo::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_parameter() {
        let d = Digest::sha256_of(b"x");
        let (n, r) = parse_from(&format!("lib/app@{d}")).unwrap();
        assert_eq!((n.as_str(), r), ("lib/app", Reference::Digest(d)));
        let (n, r) = parse_from("lib/a/b:v1").unwrap();
        assert_eq!(n.as_str(), "lib/a/b");
        assert_eq!(r.as_str(), "v1");
        assert!(parse_from("lib/app").is_err());
        assert!(parse_from("lib/app@sha256:nothex").is_err());
    }
}
