//! Manifests, tags, referrers and the catalog of `/v2/`: resolving references, serving
//! and deleting (pushing is in `pushes`).

use bytes::Bytes;
use portcullis_meta::{ProjectId, RepositoryId};
use portcullis_types::{Digest, ErrorCode, Reference, RepoName};

use crate::access::ProjectInfo;
use crate::cache::Resolved;
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::events::{Event, EventType};
use crate::registry::{ReferrerDescriptor, Registry, audit_resource};

impl Registry {
    /// Resolves a reference to a manifest of `repo` (the hot path of pulls).
    pub async fn resolve(&self, repo: &RepoName, reference: &Reference) -> Result<Resolved> {
        if let Some(r) = self.resolutions.get(repo.as_str(), reference.as_str()) {
            return Ok(r);
        }
        let Some(a) = self.meta.artifacts().resolve(repo, reference).await? else {
            return Err(Error::code(ErrorCode::ManifestUnknown)
                .with_detail(serde_json::json!({ "reference": reference.as_str() })));
        };
        let r = Resolved {
            artifact_id: a.id.0,
            repository_id: a.repository_id.0,
            digest: a.digest.clone(),
            media_type: a.media_type.clone(),
            size: a.manifest_size,
        };
        self.resolutions
            .put(repo.as_str(), reference.as_str(), r.clone());
        Ok(r)
    }

    /// A pull (or, with `head`, a HEAD) of a manifest by the caller of `ctx`, already
    /// allowed to pull from `project`: the manifest, judged by the pull gate, with the
    /// pull's audit entry and event when it is a GET. A scanner's own credential, and a
    /// signing tool (`user_agent`) run by someone who may push here, pass the gate: they
    /// read what they are about to scan or sign, as in Harbor.
    pub async fn pull_manifest(
        &self,
        ctx: &RequestCtx,
        project: &ProjectInfo,
        repo: &RepoName,
        reference: &Reference,
        head: bool,
        user_agent: Option<&str>,
    ) -> Result<(Resolved, Bytes)> {
        let (resolved, bytes) = self.get_manifest(repo, reference, !head).await?;
        let exempt = ctx.principal.is_scanner()
            || (crate::policy::signatures::is_signing_tool(user_agent)
                && self
                    .access
                    .authorize(&ctx.principal, repo, crate::Actions::PUSH)
                    .await
                    .is_ok());
        let gate = self
            .policy
            .pull_gate(
                ProjectId(project.id),
                RepositoryId(resolved.repository_id),
                &resolved.digest,
                &bytes,
                exempt,
            )
            .await;
        if !head {
            let resource = audit_resource(repo, reference);
            let ok = gate.is_ok();
            self.audit_log.action(
                &ctx.audit_actor(),
                "pull",
                "artifact",
                &resource,
                Some(project.id),
                ok,
            );
            if ok {
                let tag = match reference {
                    Reference::Tag(t) => Some(t.as_str()),
                    Reference::Digest(_) => None,
                };
                let digest = resolved.digest.as_str();
                self.artifact_event(
                    EventType::PullArtifact,
                    project,
                    repo.as_str(),
                    digest,
                    tag,
                    &ctx.actor,
                    ctx.host.as_deref(),
                );
            }
        }
        gate?;
        Ok((resolved, bytes))
    }

    /// Reads a manifest; `record_pull` marks a real pull (GET, not HEAD).
    pub async fn get_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
        record_pull: bool,
    ) -> Result<(Resolved, Bytes)> {
        let r = self.resolve(repo, reference).await?;
        let bytes = match self.manifests.get(&r.digest) {
            Some(b) => b,
            None => {
                let b = self.blobs.get_bytes(&r.digest).await?;
                self.manifests.put(r.digest.clone(), b.clone());
                b
            }
        };
        if record_pull {
            self.pulls.record(r.artifact_id);
        }
        Ok((r, bytes))
    }

    /// Deletes a manifest by digest, or untags by tag (`DELETE /v2/<name>/manifests/<ref>`).
    /// Deleting by digest is a durable DELETE_ARTIFACT event with its audit entry; untagging
    /// is audited only.
    pub async fn delete_manifest(
        &self,
        ctx: &RequestCtx,
        project: &ProjectInfo,
        repo: &RepoName,
        reference: &Reference,
    ) -> Result<()> {
        let resource = audit_resource(repo, reference);
        let event = match reference {
            Reference::Digest(d) => Some(
                Event::artifact(
                    EventType::DeleteArtifact,
                    project.into(),
                    repo.as_str(),
                    d.as_str(),
                    None,
                    &ctx.actor,
                )
                .caused_by(ctx)
                .audited("delete", "artifact", &resource),
            ),
            Reference::Tag(_) => None,
        };
        let res = self.remove_manifest(repo, reference, event.as_ref()).await;
        if event.is_none() || res.is_err() {
            let actor = ctx.audit_actor();
            self.audit_log.action(
                &actor,
                "delete",
                "artifact",
                &resource,
                Some(project.id),
                res.is_ok(),
            );
        }
        res
    }

    /// Deletes a manifest by digest (writing `event` in the same transaction and handing
    /// it over), or untags by tag. A tag an immutable rule protects cannot be removed,
    /// nor can an artifact carrying one.
    pub(crate) async fn remove_manifest(
        &self,
        repo: &RepoName,
        reference: &Reference,
        event: Option<&Event>,
    ) -> Result<()> {
        let r = self.uploads.repository(repo).await?;
        match reference {
            Reference::Tag(t) => {
                self.policy
                    .check_tags_mutable(r.project_id.0, repo, [t.as_str()])
                    .await?
            }
            Reference::Digest(d) => {
                if let Some(a) = self.meta.artifacts().get_artifact(r.id, d).await? {
                    let tags = self.meta.tags().tags_of(a.id).await?;
                    self.policy
                        .check_tags_mutable(
                            r.project_id.0,
                            repo,
                            tags.iter().map(|t| t.name.as_str()),
                        )
                        .await?;
                }
            }
        }
        let (writes, after) = match event {
            Some(e) => self.outbox.prepare(vec![e.clone()]).await,
            None => Default::default(),
        };
        let found = match reference {
            Reference::Digest(d) => {
                self.meta
                    .artifacts()
                    .delete_artifact(r.id, d, &writes)
                    .await?
            }
            Reference::Tag(t) => self.meta.tags().delete_tag(r.id, t).await?,
        };
        if found && matches!(reference, Reference::Digest(_)) {
            self.artifacts_removed().await;
            self.outbox.hand_over(&after).await;
        } else {
            self.resolutions.invalidate();
            self.policy.gate_changed();
        }
        if found {
            Ok(())
        } else {
            Err(Error::code(ErrorCode::ManifestUnknown))
        }
    }

    pub async fn tags(
        &self,
        repo: &RepoName,
        last: Option<&str>,
        n: Option<u32>,
    ) -> Result<Vec<String>> {
        let r = self.uploads.repository(repo).await?;
        Ok(self.meta.tags().list_tags(r.id, last, n).await?)
    }

    pub async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ReferrerDescriptor>> {
        let Some(r) = self.meta.repositories().get_repository(repo).await? else {
            return Ok(Vec::new());
        };
        let list = self
            .meta
            .artifacts()
            .referrers(r.id, subject, artifact_type)
            .await?;
        Ok(list
            .into_iter()
            .map(|a| ReferrerDescriptor {
                media_type: a.media_type,
                digest: a.digest,
                size: a.manifest_size,
                artifact_type: a.artifact_type,
                annotations: a.annotations,
            })
            .collect())
    }

    /// Repository names for `_catalog`, restricted to projects the caller may see.
    pub async fn catalog(
        &self,
        last: Option<&str>,
        n: u32,
        only: Option<&[i64]>,
    ) -> Result<Vec<String>> {
        let ids: Option<Vec<portcullis_meta::ProjectId>> =
            only.map(|o| o.iter().map(|i| portcullis_meta::ProjectId(*i)).collect());
        Ok(self
            .meta
            .repositories()
            .catalog(last, n, ids.as_deref())
            .await?)
    }
}

impl Registry {
    /// Emits an artifact event; nothing is built unless a subscriber wants it (pulls).
    #[allow(clippy::too_many_arguments)]
    pub fn artifact_event(
        &self,
        kind: EventType,
        project: &crate::ProjectInfo,
        repository: &str,
        digest: &str,
        tag: Option<&str>,
        operator: &str,
        host: Option<&str>,
    ) {
        self.events.emit_with(project.id, kind, || {
            Event::artifact(kind, project.into(), repository, digest, tag, operator)
                .with_host(host.map(str::to_string))
        });
    }
}

/// Kubernetes admission: an image of this registry may run when its manifest would be
/// served.
impl Registry {
    /// Why `image` may not run, or `None` when it may.
    pub async fn admission_refusal(&self, image: &str) -> Option<String> {
        let settings = &self.settings.admission;
        let Some(r) = crate::admission::parse_image(image) else {
            return Some(format!("image {image:?} is not a valid reference"));
        };
        let own = settings
            .own_hosts
            .iter()
            .any(|h| crate::admission::covers(h, &r));
        if !own {
            let allowed = settings
                .allowed_registries
                .iter()
                .any(|a| a == "*" || crate::admission::covers(a, &r));
            return (!allowed).then(|| {
                format!(
                    "image {image}: {}/{} is not on the list of allowed registries",
                    r.registry, r.repository
                )
            });
        }
        match self.admission_gate(&r).await {
            Ok(()) => None,
            Err(e) => Some(format!("image {image}: {}", e.message)),
        }
    }

    async fn admission_gate(&self, r: &crate::admission::ImageRef) -> crate::Result<()> {
        let missing = || Error::new(ErrorCode::ManifestUnknown, "not found in this registry");
        let repo = RepoName::parse(&r.repository).map_err(|_| missing())?;
        let reference = match (&r.digest, &r.tag) {
            (Some(d), _) => Reference::Digest(Digest::parse(d).map_err(|_| missing())?),
            (None, Some(t)) => Reference::parse(t).map_err(|_| missing())?,
            (None, None) => Reference::parse("latest").map_err(|_| missing())?,
        };
        let project = self
            .access
            .project_info(repo.project())
            .await?
            .ok_or_else(missing)?;
        let (resolved, bytes) = self
            .get_manifest(&repo, &reference, false)
            .await
            .map_err(|_| missing())?;
        // With a tag and a digest both written, runtimes pull the digest; so is it judged.
        self.policy
            .pull_gate(
                ProjectId(project.id),
                RepositoryId(resolved.repository_id),
                &resolved.digest,
                &bytes,
                false,
            )
            .await
    }
}
