//! Who signed what: finding cosign and notation signatures of an artifact, verifying
//! them against the keys and certificates its project trusts, and the content-trust
//! part of the pull gate (`enable_content_trust_cosign`, `enable_content_trust`).
//!
//! Harbor only checks that a signature is attached. Here, once a project trusts any key
//! (or certificate) of a kind, a signature of that kind counts only if it verifies with
//! one of them and its signed payload names the artifact's digest. Without trusted
//! material, presence is enough, as in Harbor.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use portcullis_meta::{ProjectId, RepositoryId};
use portcullis_trust::{Check, TrustAnchor, TrustedKey, cosign, notation};
use portcullis_types::{Digest, ErrorCode, Tag, media};
use serde::Serialize;

use super::Policy;
use crate::cache::{GateEpoch, GateMap};
use crate::error::{Error, Result};

/// Largest signature payload or envelope read (they are a few KiB).
const MAX_SIGNATURE_BLOB: u64 = 1024 * 1024;

/// The state of one kind of signature on an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum SigState {
    /// No signature of this kind is attached.
    None,
    /// Signatures are attached; none verified (no trusted material, or none matched).
    Present {
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A signature verified with the named trusted key or certificate.
    Verified { key: String },
}

impl SigState {
    fn rank(&self) -> u8 {
        match self {
            SigState::None => 0,
            SigState::Present { .. } => 1,
            SigState::Verified { .. } => 2,
        }
    }
}

/// Signature states of an artifact, per kind, and how many keys of each kind its
/// project trusts (with none, an attached signature cannot be verified and counts as
/// it is, as in Harbor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureStatus {
    pub cosign: SigState,
    pub notation: SigState,
    pub trusted_keys: TrustedCounts,
}

/// How many trusted keys (cosign) and certificates (notation) a project has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrustedCounts {
    pub cosign: usize,
    pub notation: usize,
}

/// What a project requires and trusts, cached briefly.
#[derive(Debug, Clone, Default)]
pub struct ProjectTrust {
    pub require_cosign: bool,
    pub require_notation: bool,
    pub cosign_keys: Vec<TrustedKey>,
    pub notation_anchors: Vec<TrustAnchor>,
}

/// Keys and certificates from the configuration (`--trusted-keys-dir`), by project name.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredTrust {
    pub cosign: HashMap<String, Vec<TrustedKey>>,
    pub notation: HashMap<String, Vec<TrustAnchor>>,
}

impl ConfiguredTrust {
    /// Reads `<dir>/<project>/cosign/*.pub|*.pem` and `<dir>/<project>/notation/*.crt|*.pem`;
    /// each file's stem names its key. Any file that does not parse is an error, so a
    /// typo cannot silently leave a project trusting nothing.
    pub fn load_dir(dir: &std::path::Path) -> anyhow::Result<Self> {
        let mut out = ConfiguredTrust::default();
        let entries = std::fs::read_dir(dir)?;
        for project in entries {
            let project = project?;
            if !project.file_type()?.is_dir() {
                continue;
            }
            let name = project.file_name().to_string_lossy().to_string();
            for kind in ["cosign", "notation"] {
                let sub = project.path().join(kind);
                if !sub.is_dir() {
                    continue;
                }
                let mut files: Vec<_> = std::fs::read_dir(&sub)?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension()
                            .is_some_and(|e| matches!(e.to_str(), Some("pub" | "pem" | "crt")))
                    })
                    .collect();
                files.sort();
                for f in files {
                    let key = f
                        .file_stem()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let pem = std::fs::read_to_string(&f)?;
                    let err =
                        |e: portcullis_trust::TrustError| anyhow::anyhow!("{}: {e}", f.display());
                    if kind == "cosign" {
                        let k = TrustedKey::from_pem(&key, &pem).map_err(err)?;
                        out.cosign.entry(name.clone()).or_default().push(k);
                    } else {
                        let a = TrustAnchor::from_pem(&key, &pem).map_err(err)?;
                        out.notation.entry(name.clone()).or_default().extend(a);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Verdicts per (repository, digest) and trust per project, dropped on any local change
/// to signatures, keys or project settings, and expiring for changes made elsewhere.
pub struct SignatureCache {
    verdicts: GateMap<(i64, Digest), SignatureStatus>,
    projects: GateMap<i64, Arc<ProjectTrust>>,
    pub configured: ConfiguredTrust,
}

impl SignatureCache {
    pub fn new(ttl: Duration, epoch: &Arc<GateEpoch>, configured: ConfiguredTrust) -> Self {
        SignatureCache {
            verdicts: GateMap::new(ttl, epoch),
            projects: GateMap::new(ttl, epoch),
            configured,
        }
    }
}

fn truthy(metadata: &std::collections::BTreeMap<String, String>, key: &str) -> bool {
    metadata.get(key).is_some_and(|v| v == "true")
}

/// Whether a pull by `user_agent` is a signing tool reading what it is about to sign.
/// Harbor lets cosign and notation through for that reason, but only for callers who may
/// push (a User-Agent alone proves nothing): see `Registry::pull_gate`.
pub fn is_signing_tool(user_agent: Option<&str>) -> bool {
    user_agent.is_some_and(|ua| {
        let ua = ua.to_ascii_lowercase();
        ua.contains("cosign") || ua.contains("notation")
    })
}

impl Policy {
    /// What `project` requires and trusts.
    pub async fn project_trust(&self, project: ProjectId) -> Result<Arc<ProjectTrust>> {
        let cache = &self.signatures;
        let generation = cache.projects.generation();
        if let Some(t) = cache.projects.get(&project.0) {
            return Ok(t);
        }
        let p = self
            .meta
            .projects()
            .get_project(project)
            .await?
            .ok_or_else(|| Error::code(ErrorCode::NotFound))?;
        let mut trust = ProjectTrust {
            require_cosign: truthy(&p.metadata, "enable_content_trust_cosign"),
            require_notation: truthy(&p.metadata, "enable_content_trust"),
            cosign_keys: cache
                .configured
                .cosign
                .get(p.name.as_str())
                .cloned()
                .unwrap_or_default(),
            notation_anchors: cache
                .configured
                .notation
                .get(p.name.as_str())
                .cloned()
                .unwrap_or_default(),
        };
        for k in self.meta.trust().trusted_keys(project).await? {
            // Stored keys were parsed when added; one that no longer parses is skipped
            // (and reported by the keys API) rather than failing every pull.
            match k.kind.as_str() {
                "cosign" => match TrustedKey::from_pem(&k.name, &k.pem) {
                    Ok(key) => trust.cosign_keys.push(key),
                    Err(e) => tracing::warn!(key = %k.name, error = %e, "unusable trusted key"),
                },
                _ => match TrustAnchor::from_pem(&k.name, &k.pem) {
                    Ok(a) => trust.notation_anchors.extend(a),
                    Err(e) => {
                        tracing::warn!(key = %k.name, error = %e, "unusable trusted certificate")
                    }
                },
            }
        }
        let trust = Arc::new(trust);
        cache.projects.put(project.0, trust.clone(), generation);
        Ok(trust)
    }

    /// The signature states of the artifact `digest` in `repo` (of `project`), verified
    /// against the project's trusted material.
    pub async fn signature_status(
        &self,
        project: ProjectId,
        repo: RepositoryId,
        digest: &Digest,
    ) -> Result<SignatureStatus> {
        let cache = &self.signatures.verdicts;
        let generation = cache.generation();
        let key = (repo.0, digest.clone());
        if let Some(s) = cache.get(&key) {
            return Ok(s);
        }
        let trust = self.project_trust(project).await?;
        let status = self.find_and_verify(&trust, repo, digest).await?;
        cache.put(key, status.clone(), generation);
        Ok(status)
    }

    async fn find_and_verify(
        &self,
        trust: &ProjectTrust,
        repo: RepositoryId,
        digest: &Digest,
    ) -> Result<SignatureStatus> {
        let mut status = SignatureStatus {
            cosign: SigState::None,
            notation: SigState::None,
            trusted_keys: TrustedCounts {
                cosign: trust.cosign_keys.len(),
                notation: trust.notation_anchors.len(),
            },
        };
        let mut cosign_manifests = Vec::new();
        if let Ok(tag) = Tag::parse(&cosign::signature_tag(digest))
            && let Some(a) = self.meta.artifacts().resolve_tag(repo, &tag).await?
        {
            cosign_manifests.push(a.digest);
        }
        let mut notation_manifests = Vec::new();
        for r in self.meta.artifacts().referrers(repo, digest, None).await? {
            match r.effective_type() {
                Some(media::COSIGN_SIGNATURE_ARTIFACT) => cosign_manifests.push(r.digest),
                Some(media::NOTATION_SIGNATURE) => notation_manifests.push(r.digest),
                _ => {}
            }
        }
        for m in cosign_manifests {
            let bytes = self.blobs.get_bytes(&m).await?;
            for p in cosign::signed_payloads(&bytes) {
                let check = match self.small_blob(&p.payload).await? {
                    Some(payload) => {
                        if trust.cosign_keys.is_empty() {
                            Check::Rejected("the project trusts no cosign key".into())
                        } else {
                            cosign::verify(&payload, &p.signature, digest, &trust.cosign_keys)
                        }
                    }
                    None => Check::Rejected("the signed payload is missing or too large".into()),
                };
                merge(&mut status.cosign, check);
            }
        }
        for m in notation_manifests {
            let bytes = self.blobs.get_bytes(&m).await?;
            let check = match notation_envelope(&bytes) {
                Some((layer, media_type)) if media_type == notation::JWS_MEDIA_TYPE => {
                    match self.small_blob(&layer).await? {
                        Some(env) => notation::verify_jws(
                            &env,
                            digest,
                            &trust.notation_anchors,
                            time::OffsetDateTime::now_utc(),
                        ),
                        None => {
                            Check::Rejected("the signature envelope is missing or too large".into())
                        }
                    }
                }
                Some((_, media_type)) => Check::Rejected(format!(
                    "notation envelopes of type {media_type} are not verified"
                )),
                None => Check::Rejected("the notation signature has no envelope".into()),
            };
            merge(&mut status.notation, check);
        }
        Ok(status)
    }

    /// The content-trust part of the pull gate for the manifest `digest` (with `manifest`
    /// its bytes) in `repo`: `Ok` when the project requires no signature, the caller is a
    /// signing tool, the manifest is itself a signature or other accessory, or the
    /// required signatures are there (verified, when the project trusts keys of that
    /// kind) on it or on an index in the repository that lists it. Otherwise Harbor's
    /// `412 PROJECTPOLICYVIOLATION`, with the reason in `detail`.
    pub async fn content_trust_check(
        &self,
        project: ProjectId,
        repo: RepositoryId,
        digest: &Digest,
        manifest: &[u8],
    ) -> Result<()> {
        let trust = self.project_trust(project).await?;
        if !(trust.require_cosign || trust.require_notation) || is_accessory(manifest) {
            return Ok(());
        }
        let satisfied = |s: &SignatureStatus| -> (bool, bool) {
            let ok = |state: &SigState, trusted: bool| match state {
                SigState::Verified { .. } => true,
                SigState::Present { .. } => !trusted,
                SigState::None => false,
            };
            (
                !trust.require_cosign || ok(&s.cosign, !trust.cosign_keys.is_empty()),
                !trust.require_notation || ok(&s.notation, !trust.notation_anchors.is_empty()),
            )
        };
        let own = self.signature_status(project, repo, digest).await?;
        let (mut cosign_ok, mut notation_ok) = satisfied(&own);
        if !(cosign_ok && notation_ok) {
            // A platform image pulled through its signed index carries no signature itself.
            for parent in self.meta.artifacts().parents_of(repo, digest).await? {
                let (c, n) = satisfied(&self.signature_status(project, repo, &parent).await?);
                cosign_ok |= c;
                notation_ok |= n;
            }
        }
        let refuse = |message: &str, state: &SigState| {
            let reason = match state {
                SigState::Present { reason: Some(r) } => r.clone(),
                _ => "no signature is attached".to_string(),
            };
            Err(Error::new(ErrorCode::ProjectPolicyViolation, message)
                .with_detail(serde_json::json!({ "digest": digest.as_str(), "reason": reason })))
        };
        if !cosign_ok {
            return refuse("The image is not signed by cosign.", &own.cosign);
        }
        if !notation_ok {
            return refuse("The image is not signed by notation.", &own.notation);
        }
        Ok(())
    }

    /// A signature blob's bytes, unless it is absent or larger than any signature is.
    async fn small_blob(&self, d: &Digest) -> Result<Option<bytes::Bytes>> {
        match self.blobs.stat(d).await? {
            Some(size) if size <= MAX_SIGNATURE_BLOB => Ok(Some(self.blobs.get_bytes(d).await?)),
            _ => Ok(None),
        }
    }
}

/// Folds one signature's check into the state of its kind: verified beats present.
fn merge(state: &mut SigState, check: Check) {
    let next = match check {
        Check::Verified { key } => SigState::Verified { key },
        Check::Rejected(reason) => SigState::Present {
            reason: Some(reason),
        },
    };
    if next.rank() > state.rank() {
        *state = next;
    }
}

/// Whether a manifest is an accessory (it has a subject, or is a cosign signature or
/// attestation in the tag layout): content trust applies to what it describes.
fn is_accessory(manifest: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(manifest) else {
        return false;
    };
    if v.get("subject").is_some_and(|s| s.is_object()) {
        return true;
    }
    v.get("layers")
        .and_then(|l| l.as_array())
        .is_some_and(|layers| {
            !layers.is_empty()
                && layers.iter().all(|l| {
                    matches!(
                        l.get("mediaType").and_then(|m| m.as_str()),
                        Some(cosign::PAYLOAD_MEDIA_TYPE | "application/vnd.dsse.envelope.v1+json")
                    )
                })
        })
}

/// The first layer of a notation signature manifest: its digest and media type.
fn notation_envelope(manifest: &[u8]) -> Option<(Digest, String)> {
    let v: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    let layer = v.get("layers")?.as_array()?.first()?;
    let digest = Digest::parse(layer.get("digest")?.as_str()?).ok()?;
    let media_type = layer.get("mediaType")?.as_str()?.to_string();
    Some((digest, media_type))
}
