//! The vulnerability part of the pull gate: a project with `prevent_vul` refuses
//! manifests whose scan is missing, unfinished, or leaves findings at or above its
//! `severity` once the CVE allowlist is applied (Harbor's three 412 messages, from
//! `vulnerability`). An index is refused when any of its images would be.
//!
//! The decision costs a hash-map lookup when warm: the project's threshold and allowlist,
//! and the verdict per (project, digest), are cached and dropped whenever a report,
//! allowlist, project setting or manifest changes on this node (`Policy::gate_changed`),
//! and after the cache TTL for changes made on other nodes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use portcullis_meta::{ProjectId, ReportKey, ReportStatus, RepositoryId};
use portcullis_types::{Digest, ErrorCode, ParsedManifest, Severity};

use portcullis_policy::{ScanState, Threshold, after_allowlist, finding_severity, verdict};

use super::Policy;
use crate::cache::{GateEpoch, GateMap};
use crate::error::{Error, Result};
use crate::scanning::{VULN_MIME, codec::unpack, service::is_scannable};

/// A project's vulnerability policy: its threshold (none when the policy is off) and the
/// CVE ids it exempts.
#[derive(Debug, Clone)]
struct ProjectPolicy {
    threshold: Option<Threshold>,
    allowlist: Arc<HashSet<String>>,
}

/// A pull-gate refusal as cached: its message and detail (the code is always
/// `PROJECTPOLICYVIOLATION`).
pub(crate) type Refusal = Arc<(String, Option<serde_json::Value>)>;

/// Cached policies and verdicts.
pub struct VulnVerdicts {
    projects: GateMap<i64, ProjectPolicy>,
    verdicts: GateMap<(i64, Digest), Option<String>>,
    /// The whole gate's answer per (repository, digest) for callers with no exemption:
    /// a warm pull costs this one lookup instead of re-reading the manifest to tell an
    /// accessory from an image and asking each policy in turn.
    pub(crate) pulls: GateMap<(i64, Digest), Option<Refusal>>,
}

impl VulnVerdicts {
    pub fn new(ttl: Duration, epoch: &Arc<GateEpoch>) -> Self {
        VulnVerdicts {
            projects: GateMap::new(ttl, epoch),
            verdicts: GateMap::new(ttl, epoch),
            pulls: GateMap::new(ttl, epoch),
        }
    }
}

fn refused(message: String, digest: &Digest) -> Error {
    Error::new(ErrorCode::ProjectPolicyViolation, message)
        .with_detail(serde_json::json!({ "digest": digest.as_str() }))
}

impl Policy {
    async fn project_vuln_policy(&self, project: ProjectId) -> Result<ProjectPolicy> {
        let cache = &self.vuln_verdicts.projects;
        let generation = cache.generation();
        if let Some(p) = cache.get(&project.0) {
            return Ok(p);
        }
        let p = self
            .meta
            .projects()
            .get_project(project)
            .await?
            .ok_or_else(|| Error::code(ErrorCode::NotFound))?;
        let threshold = Threshold::from_metadata(&p.metadata);
        let allowlist = match threshold {
            Some(_) => Arc::new(self.effective_allowlist(&p).await?),
            None => Arc::new(HashSet::new()),
        };
        let policy = ProjectPolicy {
            threshold,
            allowlist,
        };
        cache.put(project.0, policy.clone(), generation);
        Ok(policy)
    }

    /// The vulnerability part of the pull gate for the manifest `digest` (bytes
    /// `manifest`) in `repo` (exempt callers never get here: `Policy::pull_gate`).
    pub async fn vulnerability_check(
        &self,
        project: ProjectId,
        repo: RepositoryId,
        digest: &Digest,
        manifest: &[u8],
    ) -> Result<()> {
        let policy = self.project_vuln_policy(project).await?;
        let Some(threshold) = policy.threshold else {
            return Ok(());
        };
        let cache = &self.vuln_verdicts.verdicts;
        let key = (project.0, digest.clone());
        if let Some(v) = cache.get(&key) {
            return v.map_or(Ok(()), |m| Err(refused(m, digest)));
        }
        let generation = cache.generation();
        let v = self
            .judge(
                project,
                repo,
                digest,
                manifest,
                threshold,
                &policy.allowlist,
            )
            .await?;
        cache.put(key, v.clone(), generation);
        v.map_or(Ok(()), |m| Err(refused(m, digest)))
    }

    /// Harbor's refusal message for a manifest, or `None` when it may be pulled.
    async fn judge(
        &self,
        project: ProjectId,
        repo: RepositoryId,
        digest: &Digest,
        manifest: &[u8],
        threshold: Threshold,
        allowlist: &HashSet<String>,
    ) -> Result<Option<String>> {
        let Ok(parsed) = ParsedManifest::parse(manifest, None) else {
            return Ok(None);
        };
        if parsed.kind.is_index() {
            // An index is refused if any image in it would be.
            for child in parsed.required_children() {
                let Some(a) = self
                    .meta
                    .artifacts()
                    .get_artifact(repo, &child.digest)
                    .await?
                else {
                    continue;
                };
                if !is_scannable(
                    &a.media_type,
                    a.config_media_type.as_deref(),
                    a.subject.is_some(),
                ) {
                    continue;
                }
                let state = self.scan_state(project, &child.digest, allowlist).await?;
                if let Some(m) = verdict(threshold, &state) {
                    return Ok(Some(m));
                }
            }
            return Ok(None);
        }
        let config = parsed.config.as_ref().map(|c| c.media_type.as_str());
        if !is_scannable(parsed.media_type(), config, parsed.subject.is_some()) {
            return Ok(None);
        }
        let state = self.scan_state(project, digest, allowlist).await?;
        Ok(verdict(threshold, &state))
    }

    /// What the project's scanner reported for `digest`, after the allowlist.
    async fn scan_state(
        &self,
        project: ProjectId,
        digest: &Digest,
        allowlist: &HashSet<String>,
    ) -> Result<ScanState> {
        let scanning = &self.scanning;
        let Some(scanner) = scanning.resolver().scanner_id_for(project.0).await else {
            return Ok(ScanState::NotScanned);
        };
        let key = ReportKey {
            digest: digest.to_string(),
            scanner,
            mime_type: VULN_MIME.to_string(),
        };
        let Some(report) = scanning.meta.scans().get_report(&key).await? else {
            return Ok(ScanState::NotScanned);
        };
        if report.status != ReportStatus::Success {
            return Ok(ScanState::Unsuccessful(report.status.as_str().to_string()));
        }
        let Some(doc) = report.report.as_deref() else {
            return Ok(ScanState::Unsuccessful(
                ReportStatus::Error.as_str().to_string(),
            ));
        };
        let doc: serde_json::Value =
            unpack(doc).map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
        let findings: Vec<(String, Severity)> = doc
            .get("vulnerabilities")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| {
                (
                    v.get("id")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    finding_severity(
                        v.get("severity")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default(),
                    ),
                )
            })
            .collect();
        Ok(after_allowlist(
            findings.iter().map(|(id, s)| (id.as_str(), *s)),
            allowlist,
        ))
    }
}
