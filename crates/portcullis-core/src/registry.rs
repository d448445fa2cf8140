//! The registry service: everything `/v2/` does, below HTTP. Callers authorize first
//! (see `access`); these methods assume the caller may do what it asks.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use portcullis_blob::{BlobReader, BlobStore, UploadId, UploadStatus};
use portcullis_meta::{Artifact, MetaStore, PutManifest};
use portcullis_types::{Digest, ErrorCode, ParsedManifest, Reference, RepoName, media};

use crate::access::ProjectInfo;
use crate::auth::{CredentialCache, TokenService};
use crate::cache::{ManifestBytes, Projects, Resolutions, Resolved};
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::events::{Event, EventType, Outbox};
use crate::pulls::PullRecorder;

/// Settings of the registry service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest manifest accepted, in bytes.
    pub max_manifest_size: usize,
    /// Base URL clients reach the registry at (token realm, `Location` headers). When
    /// unset, each request's `Host` header stands in for it.
    pub external_url: Option<String>,
    /// How long a cached reference resolution or project may be served.
    pub cache_ttl: Duration,
    /// Name of the blob storage backend, as `systeminfo` reports it.
    pub storage_name: String,
    /// Whether anyone may create their own account (`POST /api/v2.0/users` unauthenticated).
    pub self_registration: bool,
    /// Failed logins per username within `login_window` before `429`.
    pub login_failures_per_user: u32,
    /// Failed logins per client address within `login_window` before `429`.
    pub login_failures_per_address: u32,
    /// The sliding window of the login rate limits.
    pub login_window: Duration,
    /// Audit entries older than this many days are purged daily; 0 keeps them forever.
    pub audit_retention_days: u32,
    /// Take the client address from `X-Forwarded-For` / `X-Real-IP` (behind a proxy).
    pub trust_proxy_headers: bool,
    /// The server terminates TLS itself (the scheme of URLs built from `Host`).
    pub https: bool,
    /// Webhook delivery: attempts, timeout, backlog.
    pub webhooks: crate::webhooks::WebhookSettings,
    /// The key callers of the scanner adapter API (`/api/v1`) must present; the adapter
    /// API is off without one.
    pub scanner_adapter_api_key: Option<String>,
    /// Where the vulnerability database lives (`<data-dir>/vulndb`).
    pub vulndb_dir: Option<std::path::PathBuf>,
    /// Signing keys and certificates projects trust, from the configuration.
    pub trusted: crate::signatures::ConfiguredTrust,
    /// Which registries Kubernetes admission lets clusters pull from.
    pub admission: crate::admission::AdmissionSettings,
    /// Usage, in percent of a project's storage limit, from which pushes raise QUOTA_WARNING.
    pub quota_warning_percent: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_manifest_size: 4 * 1024 * 1024,
            external_url: None,
            cache_ttl: Duration::from_secs(2),
            storage_name: "filesystem".into(),
            self_registration: false,
            login_failures_per_user: 10,
            login_failures_per_address: 50,
            login_window: Duration::from_secs(300),
            audit_retention_days: 365,
            trust_proxy_headers: false,
            https: false,
            webhooks: crate::webhooks::WebhookSettings::default(),
            scanner_adapter_api_key: None,
            vulndb_dir: None,
            trusted: Default::default(),
            admission: Default::default(),
            quota_warning_percent: 85,
        }
    }
}

pub struct Registry {
    pub meta: MetaStore,
    pub blobs: BlobStore,
    pub tokens: TokenService,
    pub credentials: CredentialCache,
    pub settings: Settings,
    pub(crate) project_cache: Projects<ProjectInfo>,
    pub(crate) role_cache: Projects<crate::rbac::Role>,
    pub(crate) robot_credentials: crate::login::RobotCredentials,
    pub(crate) login_limiter: crate::login::LoginLimiter,
    pub(crate) audit_log: crate::audit::AuditRecorder,
    /// Every registry event goes through here (`reg.events.emit(Event::…)`).
    pub events: crate::events::EventBus,
    /// Durable events of state changes and their subscribers.
    pub outbox: Arc<crate::events::Outbox>,
    pub webhooks: crate::webhooks::Webhooks,
    pub scanners: crate::scanners::Scanners,
    pub(crate) signatures: crate::signatures::SignatureCache,
    pub(crate) vuln_verdicts: crate::policy::vuln_gate::VulnVerdicts,
    pub(crate) policy: crate::policy::PolicyState,
    manifests: ManifestBytes,
    resolutions: Resolutions,
    pulls: PullRecorder,
    pub(crate) scanning: std::sync::OnceLock<Arc<crate::scanning::Scanning>>,
}

/// Harbor's audit resource of a manifest: `repo:tag` or `repo@digest`.
pub(crate) fn audit_resource(repo: &RepoName, reference: &Reference) -> String {
    match reference {
        Reference::Tag(t) => format!("{repo}:{t}"),
        Reference::Digest(d) => format!("{repo}@{d}"),
    }
}

/// The host (and port) of a URL, as Harbor writes it in `resource_url`.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// A manifest as served.
#[derive(Debug, Clone)]
pub struct ManifestContent {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Bytes,
}

/// The outcome of a manifest push.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub digest: Digest,
    pub subject: Option<Digest>,
    pub artifact: Artifact,
}

/// A referrer as listed by the referrers API.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferrerDescriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Registry {
    pub fn new(
        meta: MetaStore,
        blobs: BlobStore,
        tokens: TokenService,
        settings: Settings,
    ) -> Arc<Self> {
        let pulls = PullRecorder::start(meta.clone());
        let audit_log = crate::audit::AuditRecorder::start(meta.clone());
        let events = crate::events::EventBus::new();
        let mut webhook_settings = settings.webhooks.clone();
        if webhook_settings.host.is_none() {
            webhook_settings.host = settings.external_url.as_deref().map(url_host);
        }
        let webhooks = crate::webhooks::Webhooks::start(&events, meta.clone(), webhook_settings);
        let outbox = crate::events::Outbox::new(meta.clone());
        outbox.subscribe(Arc::new(crate::audit::AuditSubscriber));
        outbox.subscribe(webhooks.durable());
        Arc::new(Registry {
            outbox,
            meta,
            blobs,
            tokens,
            credentials: CredentialCache::new(Duration::from_secs(60)),
            project_cache: Projects::new(settings.cache_ttl),
            role_cache: Projects::new(settings.cache_ttl),
            robot_credentials: crate::login::RobotCredentials::new(Duration::from_secs(60)),
            login_limiter: crate::login::LoginLimiter::new(
                settings.login_failures_per_user,
                settings.login_failures_per_address,
                settings.login_window,
            ),
            audit_log,
            events,
            webhooks,
            scanners: crate::scanners::Scanners::new(
                settings.scanner_adapter_api_key.clone(),
                settings.vulndb_dir.clone(),
            ),
            vuln_verdicts: crate::policy::vuln_gate::VulnVerdicts::new(settings.cache_ttl),
            signatures: crate::signatures::SignatureCache::new(
                settings.cache_ttl,
                settings.trusted.clone(),
            ),
            policy: crate::policy::PolicyState::new(settings.cache_ttl),
            resolutions: Resolutions::new(settings.cache_ttl),
            manifests: ManifestBytes::new(64 * 1024 * 1024),
            settings,
            pulls,
            scanning: std::sync::OnceLock::new(),
        })
    }

    /// Sets up scanning (once; later calls are ignored), with scan on push as a durable
    /// subscriber.
    pub fn install_scanning(&self, scanning: Arc<crate::scanning::Scanning>) {
        if self.scanning.set(scanning.clone()).is_ok() {
            self.outbox
                .subscribe(crate::scanning::scan_on_push(self.meta.clone(), scanning));
        }
    }

    /// Starts handing over events that no request completed (left by a crash or a
    /// failure). Called once every durable subscriber is in place.
    pub fn start_outbox(&self) -> tokio::task::JoinHandle<()> {
        self.outbox.start()
    }

    /// Drop cached facts about a project after it changed.
    pub fn forget_project(&self, name: &str) {
        self.project_cache.forget(name);
        self.gate_changed();
        self.resolutions.invalidate();
    }

    /// After artifacts were deleted: cached resolutions and gate decisions go, and so do
    /// the reports of digests no repository holds any more (a failure there only leaves
    /// rows the next delete removes).
    pub(crate) async fn artifacts_removed(&self) {
        self.resolutions.invalidate();
        self.gate_changed();
        match self.meta.prune_reports().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(reports = n, "reports of deleted artifacts removed"),
            Err(e) => tracing::warn!(error = %e, "could not remove reports of deleted artifacts"),
        }
    }

    /// Flush pending pull and audit records and webhook events (shutdown).
    pub async fn flush(&self) {
        self.webhooks.flush().await;
        self.pulls.flush().await;
        self.audit_log.flush().await;
    }

    // ---- blobs ----------------------------------------------------------------------

    /// Size of a blob visible in `repo`.
    pub async fn blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<u64> {
        match self.meta.blob_in_repository(repo, digest).await? {
            Some(b) => Ok(b.size),
            None => Err(Error::code(ErrorCode::BlobUnknown)
                .with_detail(serde_json::json!({ "digest": digest.as_str() }))),
        }
    }

    pub async fn open_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<BlobReader> {
        self.blob_size(repo, digest).await?;
        Ok(self.blobs.get(digest, range).await?)
    }

    /// Removes a blob from a repository (the bytes stay until garbage collection, since
    /// other repositories may share them).
    pub async fn delete_blob(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        let r = self.repository(repo).await?;
        if self.meta.unlink_blob(r.id, digest).await? {
            Ok(())
        } else {
            Err(Error::code(ErrorCode::BlobUnknown))
        }
    }

    async fn repository(&self, repo: &RepoName) -> Result<portcullis_meta::Repository> {
        self.meta.get_repository(repo).await?.ok_or_else(|| {
            Error::new(
                ErrorCode::NameUnknown,
                format!("repository name not known to registry: {repo}"),
            )
            .with_detail(serde_json::json!({ "name": repo.as_str() }))
        })
    }

    async fn adopt_blob(
        &self,
        project: &ProjectInfo,
        repo: &RepoName,
        digest: &Digest,
        size: u64,
    ) -> Result<()> {
        let r = self
            .meta
            .ensure_repository(portcullis_meta::ProjectId(project.id), repo)
            .await?;
        self.meta.record_blob(digest, size, None).await?;
        self.meta.link_blob(r.id, digest).await?;
        Ok(())
    }

    /// Cross-repository mount: `Ok(true)` when the blob now belongs to `repo`.
    pub async fn mount(
        &self,
        project: &ProjectInfo,
        repo: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<bool> {
        let Some(b) = self.meta.blob_in_repository(from, digest).await? else {
            return Ok(false);
        };
        if self.blobs.stat(digest).await?.is_none() {
            return Ok(false);
        }
        self.adopt_blob(project, repo, digest, b.size).await?;
        Ok(true)
    }

    /// Monolithic upload in one request.
    pub async fn put_blob<S>(
        &self,
        project: &ProjectInfo,
        repo: &RepoName,
        digest: &Digest,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let size = self.blobs.put_stream(digest, body).await?;
        self.adopt_blob(project, repo, digest, size).await?;
        Ok(size)
    }

    pub async fn start_upload(&self, repo: &RepoName) -> Result<UploadId> {
        Ok(self.blobs.upload_create(repo.as_str()).await?)
    }

    /// The session, if it exists and belongs to `repo`.
    pub async fn upload_status(&self, repo: &RepoName, id: &UploadId) -> Result<UploadStatus> {
        let st = self.blobs.upload_status(id).await?;
        if st.owner != repo.as_str() {
            return Err(Error::code(ErrorCode::BlobUploadUnknown));
        }
        Ok(st)
    }

    pub async fn append_upload<S>(
        &self,
        repo: &RepoName,
        id: &UploadId,
        offset: Option<u64>,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let st = self.upload_status(repo, id).await?;
        let offset = offset.unwrap_or(st.size);
        Ok(self.blobs.upload_append(id, offset, body).await?)
    }

    pub async fn complete_upload(
        &self,
        project: &ProjectInfo,
        repo: &RepoName,
        id: &UploadId,
        digest: &Digest,
    ) -> Result<u64> {
        self.upload_status(repo, id).await?;
        let size = self.blobs.upload_complete(id, digest).await?;
        self.adopt_blob(project, repo, digest, size).await?;
        Ok(size)
    }

    pub async fn cancel_upload(&self, repo: &RepoName, id: &UploadId) -> Result<()> {
        self.upload_status(repo, id).await?;
        Ok(self.blobs.upload_cancel(id).await?)
    }

    // ---- manifests ------------------------------------------------------------------

    /// Resolves a reference to a manifest of `repo` (the hot path of pulls).
    pub async fn resolve(&self, repo: &RepoName, reference: &Reference) -> Result<Resolved> {
        if let Some(r) = self.resolutions.get(repo.as_str(), reference.as_str()) {
            return Ok(r);
        }
        let Some(a) = self.meta.resolve(repo, reference).await? else {
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
    pub async fn put_manifest(
        &self,
        ctx: &RequestCtx,
        project: &ProjectInfo,
        repo: &RepoName,
        reference: &Reference,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Pushed> {
        let res = self
            .commit_manifest(ctx, project, repo, reference, content_type, body, true)
            .await;
        if res.is_err() {
            let resource = audit_resource(repo, reference);
            let actor = ctx.audit_actor();
            self.audit(
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
    /// own accessories, such as generated SBOMs, are stored without one).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn commit_manifest(
        &self,
        ctx: &RequestCtx,
        project: &ProjectInfo,
        repo: &RepoName,
        reference: &Reference,
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
            Reference::Tag(_) => Digest::sha256_of(&body),
        };
        let immutable_rule = match reference {
            Reference::Tag(t) => {
                self.immutable_rule_for(project.id, repo, t.as_str())
                    .await?
            }
            Reference::Digest(_) => None,
        };
        let repository = self
            .meta
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
            events: if emit {
                vec![Outbox::record(&event)]
            } else {
                Vec::new()
            },
        };
        let commit = crate::policy::quota::Commit {
            project,
            repo,
            digest: digest.as_str(),
            tag,
            operator: &ctx.actor,
        };
        let outcome = match self.meta.put_manifest(put).await {
            Ok(o) => o,
            Err(e) => return Err(self.refused_commit(&commit, immutable_rule, e)),
        };
        self.quota_outcome(&commit, Ok(outcome.quota));
        self.resolutions.invalidate();
        if parsed.subject.is_some()
            || matches!(reference, Reference::Tag(t) if t.as_str().ends_with(".sig"))
        {
            self.gate_changed();
        }
        self.manifests.put(digest.clone(), body);
        if emit {
            self.outbox.hand_over(std::slice::from_ref(&event)).await;
        }
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
            self.audit(
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
        let r = self.repository(repo).await?;
        match reference {
            Reference::Tag(t) => {
                self.check_tags_mutable(r.project_id.0, repo, [t.as_str()])
                    .await?
            }
            Reference::Digest(d) => {
                if let Some(a) = self.meta.get_artifact(r.id, d).await? {
                    let tags = self.meta.tags_of(a.id).await?;
                    self.check_tags_mutable(
                        r.project_id.0,
                        repo,
                        tags.iter().map(|t| t.name.as_str()),
                    )
                    .await?;
                }
            }
        }
        let events: Vec<_> = event.map(Outbox::record).into_iter().collect();
        let found = match reference {
            Reference::Digest(d) => self.meta.delete_artifact(r.id, d, &events).await?,
            Reference::Tag(t) => self.meta.delete_tag(r.id, t).await?,
        };
        if found && matches!(reference, Reference::Digest(_)) {
            self.artifacts_removed().await;
            if let Some(e) = event {
                self.outbox.hand_over(std::slice::from_ref(e)).await;
            }
        } else {
            self.resolutions.invalidate();
            self.gate_changed();
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
        let r = self.repository(repo).await?;
        Ok(self.meta.list_tags(r.id, last, n).await?)
    }

    pub async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ReferrerDescriptor>> {
        let Some(r) = self.meta.get_repository(repo).await? else {
            return Ok(Vec::new());
        };
        let list = self.meta.referrers(r.id, subject, artifact_type).await?;
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
        Ok(self.meta.catalog(last, n, ids.as_deref()).await?)
    }
}
