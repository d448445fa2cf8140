//! The pull gate: every check made before a manifest is served, with the whole answer
//! cached per (repository, digest).

use portcullis_meta::{ProjectId, RepositoryId};
use portcullis_types::{Digest, ErrorCode};

use super::Policy;
use crate::error::Error;

impl Policy {
    /// Every check the pull gate makes before a manifest is served: content trust, then
    /// the vulnerability policy. `exempt` callers skip both, as in Harbor: the scanner's
    /// own pull credential, and a signing tool (cosign, notation) run by someone who may
    /// push to the repository, reading the manifest it is about to sign.
    pub async fn pull_gate(
        &self,
        project: ProjectId,
        repo: RepositoryId,
        digest: &Digest,
        manifest: &[u8],
        exempt: bool,
    ) -> crate::Result<()> {
        if exempt {
            return Ok(());
        }
        let cache = &self.vuln_verdicts.pulls;
        let key = (repo.0, digest.clone());
        let refusal = |r: &super::vuln_gate::Refusal| {
            let mut e = Error::new(ErrorCode::ProjectPolicyViolation, r.0.clone());
            e.detail = r.1.clone();
            e
        };
        if let Some(v) = cache.get(&key) {
            return v.map_or(Ok(()), |r| Err(refusal(&r)));
        }
        let generation = cache.generation();
        let verdict = match self.judge_pull(project, repo, digest, manifest).await {
            Ok(()) => None,
            // Only policy answers are remembered; a failed lookup is asked again.
            Err(e) if e.code == ErrorCode::ProjectPolicyViolation => {
                Some(std::sync::Arc::new((e.message, e.detail)))
            }
            Err(e) => return Err(e),
        };
        cache.put(key, verdict.clone(), generation);
        verdict.map_or(Ok(()), |r| Err(refusal(&r)))
    }

    async fn judge_pull(
        &self,
        project: ProjectId,
        repo: RepositoryId,
        digest: &Digest,
        manifest: &[u8],
    ) -> crate::Result<()> {
        self.content_trust_check(project, repo, digest, manifest)
            .await?;
        self.vulnerability_check(project, repo, digest, manifest)
            .await
    }
}
