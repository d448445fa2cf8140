//! SBOMs as OCI artifacts: an SPDX document in a manifest whose `subject` is the
//! scanned image, pushed into the image's repository so that the referrers API and the
//! accessories list find it. The SBOM report row points at it.

use bytes::Bytes;
use portcullis_meta::{FinishedScan, ReportKey, ReportStatus};
use portcullis_types::{Digest, Reference, RepoName, media};

use super::SBOM_MIME;
use super::job::ScanJob;
use crate::error::{Error, Result};
use crate::registry::Registry;

/// Harbor's artifact type of SBOM accessories.
pub const SBOM_ARTIFACT_TYPE: &str = "application/vnd.goharbor.harbor.sbom.v1";
/// Media type of the SBOM layer.
pub const SPDX_MEDIA_TYPE: &str = "application/spdx+json";

impl Registry {
    async fn put_small_blob(
        &self,
        project: &crate::ProjectInfo,
        repo: &RepoName,
        data: Bytes,
    ) -> Result<(Digest, u64)> {
        let digest = Digest::sha256_of(&data);
        let size = data.len() as u64;
        self.put_blob(project, repo, &digest, futures::stream::iter([Ok(data)]))
            .await?;
        Ok((digest, size))
    }

    /// Pushes the SBOM of the artifact `key` names as an accessory and records the SBOM
    /// report. Several images (an index) give one document per image, in one array.
    pub(crate) async fn store_sbom(
        &self,
        key: &ReportKey,
        p: &ScanJob,
        sboms: &[serde_json::Value],
    ) -> Result<Digest> {
        let repo = RepoName::parse(&p.repository)
            .map_err(|e| Error::internal(anyhow::anyhow!("repository {}: {e}", p.repository)))?;
        let project = self
            .access
            .project_info(repo.project())
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("project of {repo} is gone")))?;
        let subject_digest = Digest::parse(&key.digest).map_err(Error::internal)?;
        let subject_size =
            self.blobs.stat(&subject_digest).await?.ok_or_else(|| {
                Error::internal(anyhow::anyhow!("manifest {} is gone", key.digest))
            })?;
        let doc = if sboms.len() == 1 {
            sboms[0].clone()
        } else {
            serde_json::Value::Array(sboms.to_vec())
        };
        let doc = Bytes::from(serde_json::to_vec(&doc).map_err(Error::internal)?);
        let (sbom_digest, sbom_size) = self.put_small_blob(&project, &repo, doc).await?;
        let (empty_digest, empty_size) = self
            .put_small_blob(&project, &repo, Bytes::from_static(b"{}"))
            .await?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "artifactType": SBOM_ARTIFACT_TYPE,
            "config": { "mediaType": media::OCI_EMPTY, "digest": empty_digest, "size": empty_size },
            "layers": [{ "mediaType": SPDX_MEDIA_TYPE, "digest": sbom_digest, "size": sbom_size }],
            "subject": { "mediaType": p.media_type, "digest": key.digest, "size": subject_size },
            "annotations": {
                "created-by": "Portcullis",
                "org.opencontainers.artifact.description": "SPDX JSON SBOM",
            },
        });
        let bytes = Bytes::from(serde_json::to_vec(&manifest).map_err(Error::internal)?);
        let digest = Digest::sha256_of(&bytes);
        let system = crate::RequestCtx::new(crate::Principal::Anonymous, "", None);
        let system = crate::RequestCtx {
            actor: "system".into(),
            ..system
        };
        self.commit_manifest(
            &system,
            &project,
            &repo,
            &Reference::Digest(digest.clone()),
            Some(media::OCI_MANIFEST),
            bytes,
            false,
        )
        .await?;
        let sbom_key = ReportKey {
            mime_type: SBOM_MIME.to_string(),
            ..key.clone()
        };
        let done = FinishedScan {
            report: Some(super::codec::pack(
                &serde_json::json!({ "sbom_digest": digest.to_string() }),
            )),
            log: format!("SBOM stored as {digest} in {repo}\n"),
            ..FinishedScan::default()
        };
        self.meta
            .start_scan(&sbom_key, &uuid::Uuid::new_v4().to_string(), 0)
            .await?;
        self.meta
            .finish_scan(&sbom_key, ReportStatus::Success, &done)
            .await?;
        Ok(digest)
    }

    /// Records that an SBOM was asked for and none came (the scanner makes none), so the
    /// SBOM overview shows an error with the reason instead of nothing.
    pub(crate) async fn sbom_unavailable(&self, key: &ReportKey, reason: &str) -> Result<()> {
        let sbom_key = ReportKey {
            mime_type: SBOM_MIME.to_string(),
            ..key.clone()
        };
        self.meta
            .start_scan(&sbom_key, &uuid::Uuid::new_v4().to_string(), 0)
            .await?;
        let failed = FinishedScan {
            log: format!("{reason}\n"),
            ..FinishedScan::default()
        };
        self.meta
            .finish_scan(&sbom_key, ReportStatus::Error, &failed)
            .await?;
        Ok(())
    }
}
