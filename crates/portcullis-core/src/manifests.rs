//! Manifests, tags, referrers and the catalog of `/v2/`: resolving references, serving,
//! pushing (with the push's durable event) and deleting.

use bytes::Bytes;
use portcullis_meta::{ProjectId, PutManifest, RepositoryId};
use portcullis_types::{Digest, ErrorCode, ParsedManifest, Reference, RepoName, Tag, media};

use crate::access::ProjectInfo;
use crate::cache::Resolved;
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::events::{Event, EventType};
use crate::registry::{Pushed, ReferrerDescriptor, Registry, audit_resource};

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

    /// Validates and stores a manifest under `reference` (a tag, or its own digest). The
    /// push's event (webhooks, audit entry, scan on push) is written in its transaction
    /// and handed over before this returns; a refused push is audited as a failure.
    /// Pushes a manifest by tag or digest; by digest, `tags` (the `tag` parameters of
    /// the newer spec) point at it too, each a push of its own. Returns the push and the
    /// tags set.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_manifest(
        &self,
        ctx: &RequestCtx,
        project: &ProjectInfo,
        repo: &RepoName,
        reference: &Reference,
        tags: &[Tag],
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(Pushed, Vec<Tag>)> {
        let pushed = self
            .push_one(
                ctx,
                project,
                repo,
                reference,
                None,
                content_type,
                body.clone(),
            )
            .await?;
        let mut tagged = Vec::new();
        if let Reference::Digest(d) = reference {
            for t in tags {
                let by_tag = Reference::Tag(t.clone());
                self.push_one(
                    ctx,
                    project,
                    repo,
                    &by_tag,
                    Some(d),
                    content_type,
                    body.clone(),
                )
                .await?;
                tagged.push(t.clone());
            }
        }
        Ok((pushed, tagged))
    }

    /// One push of `put_manifest`; a refused one is audited here (a stored one is
    /// audited through its event).
    #[allow(clippy::too_many_arguments)]
    async fn push_one(
        &self,
        ctx: &RequestCtx,
        project: &ProjectInfo,
        repo: &RepoName,
        reference: &Reference,
        named: Option<&Digest>,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Pushed> {
        let res = self
            .commit_manifest(
                ctx,
                project,
                repo,
                reference,
                named,
                content_type,
                body,
                true,
            )
            .await;
        if res.is_err() {
            let resource = audit_resource(repo, reference);
            let actor = ctx.audit_actor();
            self.audit_log.action(
                &actor,
                "create",
                "artifact",
                &resource,
                Some(project.id),
                false,
            );
        }
        res
    }

    /// Stores a manifest; with `emit`, its durable PUSH_ARTIFACT event too (the registry's
    /// own accessories, such as generated SBOMs, are stored without one). A tag push
    /// names `named` when given (already checked against the bytes), else the digest of
    /// the bytes in the algorithm of the manifest's own descriptors.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn commit_manifest(
        &self,
        ctx: &RequestCtx,
        project: &ProjectInfo,
        repo: &RepoName,
        reference: &Reference,
        named: Option<&Digest>,
        content_type: Option<&str>,
        body: Bytes,
        emit: bool,
    ) -> Result<Pushed> {
        if body.len() > self.settings.max_manifest_size {
            return Err(Error::new(
                ErrorCode::ManifestTooLarge,
                format!(
                    "manifest is {} bytes; the limit is {} bytes",
                    body.len(),
                    self.settings.max_manifest_size
                ),
            ));
        }
        let parsed = ParsedManifest::parse(&body, content_type).map_err(|e| {
            let code = match e {
                portcullis_types::ManifestError::UnsupportedMediaType(_) => {
                    ErrorCode::ManifestInvalid
                }
                _ => ErrorCode::ManifestInvalid,
            };
            Error::new(code, format!("manifest invalid: {e}"))
        })?;
        let digest = match reference {
            Reference::Digest(d) => {
                if !d.verify(&body) {
                    return Err(Error::new(
                        ErrorCode::DigestInvalid,
                        "the manifest's content does not match the digest in the URL",
                    )
                    .with_detail(serde_json::json!({ "digest": d.as_str() })));
                }
                d.clone()
            }
            Reference::Tag(_) => match named {
                Some(d) => d.clone(),
                None => Digest::of(parsed.descriptor_algorithm(), &body),
            },
        };
        let immutable_rule = match reference {
            Reference::Tag(t) => {
                self.policy
                    .immutable_rule_for(project.id, repo, t.as_str())
                    .await?
            }
            Reference::Digest(_) => None,
        };
        let repository = self
            .meta
            .repositories()
            .ensure_repository(portcullis_meta::ProjectId(project.id), repo)
            .await?;
        // Stored first: a manifest row never points at missing bytes. A crash between the
        // two leaves only an unreferenced blob, which garbage collection removes.
        if self.blobs.stat(&digest).await?.is_none() {
            self.blobs.put_bytes(&digest, body.clone()).await?;
        }
        let extra_attrs = self.extra_attrs(&parsed).await;
        let tag = match reference {
            Reference::Tag(t) => Some(t.as_str()),
            Reference::Digest(_) => None,
        };
        let event = Event::artifact(
            EventType::PushArtifact,
            project.into(),
            repo.as_str(),
            digest.as_str(),
            tag,
            &ctx.actor,
        )
        .caused_by(ctx)
        .audited("create", "artifact", &audit_resource(repo, reference));
        let (writes, after) = if emit {
            self.outbox.prepare(vec![event]).await
        } else {
            Default::default()
        };
        let put = PutManifest {
            repository_id: repository.id,
            digest: digest.clone(),
            media_type: parsed.media_type().to_string(),
            artifact_type: parsed.effective_artifact_type().map(str::to_string),
            config_media_type: parsed.config.as_ref().map(|c| c.media_type.clone()),
            manifest_size: body.len() as u64,
            size: body.len() as u64 + parsed.referenced_size(),
            subject: parsed.subject.as_ref().map(|s| s.digest.clone()),
            annotations: parsed.annotations.clone(),
            extra_attrs,
            blobs: parsed.required_blobs().map(|d| d.digest.clone()).collect(),
            children: parsed
                .required_children()
                .map(|d| {
                    (
                        d.digest.clone(),
                        d.platform
                            .as_ref()
                            .and_then(|p| serde_json::to_value(p).ok()),
                    )
                })
                .collect(),
            tag: match reference {
                Reference::Tag(t) => Some(t.clone()),
                Reference::Digest(_) => None,
            },
            immutable_tag: immutable_rule.is_some(),
            events: writes,
        };
        let commit = crate::policy::quota::Commit {
            project,
            repo,
            digest: digest.as_str(),
            tag,
            operator: &ctx.actor,
        };
        let outcome = match self.meta.artifacts().put_manifest(put).await {
            Ok(o) => o,
            Err(e) => return Err(self.policy.refused_commit(&commit, immutable_rule, e)),
        };
        self.policy.quota_outcome(&commit, Ok(outcome.quota));
        self.resolutions.invalidate();
        if parsed.subject.is_some()
            || matches!(reference, Reference::Tag(t) if t.as_str().ends_with(".sig"))
        {
            self.policy.gate_changed();
        }
        self.manifests.put(digest.clone(), body);
        self.outbox.hand_over(&after).await;
        Ok(Pushed {
            digest,
            subject: parsed.subject.map(|s| s.digest),
            artifact: outcome.artifact,
        })
    }

    /// Harbor's `extra_attrs`: architecture, os and config of an image, read from its
    /// config blob. Missing or odd configs simply give no attributes.
    async fn extra_attrs(&self, parsed: &ParsedManifest) -> serde_json::Value {
        let Some(cfg) = parsed.config.as_ref() else {
            return serde_json::json!({});
        };
        if !(cfg.media_type == media::OCI_CONFIG || cfg.media_type == media::DOCKER_CONFIG)
            || cfg.size > 1024 * 1024
        {
            return serde_json::json!({});
        }
        let Ok(bytes) = self.blobs.get_bytes(&cfg.digest).await else {
            return serde_json::json!({});
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return serde_json::json!({});
        };
        let mut out = serde_json::Map::new();
        for key in [
            "architecture",
            "os",
            "os.version",
            "variant",
            "author",
            "created",
            "config",
        ] {
            if let Some(x) = v.get(key) {
                out.insert(key.to_string(), x.clone());
            }
        }
        serde_json::Value::Object(out)
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
