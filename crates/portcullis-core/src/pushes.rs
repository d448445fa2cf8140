//! Pushing a manifest: by tag or digest (with the `tag` parameters of a push by
//! digest), checked, stored, and recorded with its durable PUSH_ARTIFACT event.

use bytes::Bytes;
use portcullis_meta::PutManifest;
use portcullis_types::{Digest, ErrorCode, ParsedManifest, Reference, RepoName, Tag, media};

use crate::access::ProjectInfo;
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::events::{Event, EventType};
use crate::registry::{Pushed, Registry, audit_resource};

impl Registry {
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
        check_descriptors(&self.meta, repository.id, &parsed).await?;
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
            size: (body.len() as u64).saturating_add(parsed.referenced_size()),
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
}

/// Refuses descriptors that misstate what the repository holds: a blob size other than
/// the stored blob's (clients trust it to allocate and verify), or an index entry that
/// calls an image manifest an index or the reverse. Missing references are left to the
/// commit, which reports them as `MANIFEST_BLOB_UNKNOWN`.
async fn check_descriptors(
    meta: &portcullis_meta::MetaStore,
    repository: portcullis_meta::RepositoryId,
    parsed: &ParsedManifest,
) -> Result<()> {
    let blobs: Vec<_> = parsed.required_blobs().collect();
    let children: Vec<_> = parsed.required_children().collect();
    let digests = |ds: &[&portcullis_types::Descriptor]| {
        ds.iter().map(|d| d.digest.clone()).collect::<Vec<_>>()
    };
    let stored = meta
        .artifacts()
        .stored_references(repository, &digests(&blobs), &digests(&children))
        .await?;
    let invalid = |msg: String, d: &portcullis_types::Descriptor| {
        Error::new(
            ErrorCode::ManifestInvalid,
            format!("manifest invalid: {msg}"),
        )
        .with_detail(serde_json::json!({ "digest": d.digest.as_str() }))
    };
    for d in &blobs {
        if let Some(&size) = stored.blob_sizes.get(d.digest.as_str())
            && size != d.size
        {
            return Err(invalid(
                format!(
                    "the descriptor of {} says {} bytes; the blob has {size}",
                    d.digest, d.size
                ),
                d,
            ));
        }
    }
    for d in &children {
        let Some((media_type, size)) = stored.children.get(d.digest.as_str()) else {
            continue;
        };
        if *size != d.size {
            return Err(invalid(
                format!(
                    "the descriptor of {} says {} bytes; the manifest has {size}",
                    d.digest, d.size
                ),
                d,
            ));
        }
        let claimed = portcullis_types::ManifestKind::from_media_type(&d.media_type);
        let actual = portcullis_types::ManifestKind::from_media_type(media_type);
        if let (Some(claimed), Some(actual)) = (claimed, actual)
            && claimed.is_index() != actual.is_index()
        {
            return Err(invalid(
                format!(
                    "the descriptor of {} says {}; the manifest is {media_type}",
                    d.digest, d.media_type
                ),
                d,
            ));
        }
    }
    Ok(())
}
