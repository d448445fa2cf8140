//! SBOMs made by scans, pushed as OCI artifacts: an SPDX document in a manifest whose
//! `subject` is the scanned image, in the image's repository, so that the referrers API
//! and the accessories list find it. The registry is the [`SbomStore`] scans use.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use portcullis_meta::ReportKey;
use portcullis_types::{Digest, Reference, RepoName, media};

use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::scanning::SbomStore;
use crate::scanning::job::ScanJob;
use crate::scanning::sbom::{SBOM_ARTIFACT_TYPE, SPDX_MEDIA_TYPE};

impl Registry {
    async fn put_small_blob(
        &self,
        project: &crate::ProjectInfo,
        repo: &RepoName,
        data: Bytes,
    ) -> Result<(Digest, u64)> {
        let digest = Digest::sha256_of(&data);
        let size = data.len() as u64;
        self.uploads
            .put_blob(
                &crate::uploads::Uploader {
                    project,
                    operator: "system",
                },
                repo,
                &digest,
                futures::stream::iter([Ok(data)]),
            )
            .await?;
        Ok((digest, size))
    }

    async fn push_sbom(
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
            None,
            Some(media::OCI_MANIFEST),
            bytes,
            false,
        )
        .await?;
        crate::scanning::sbom::record_sbom(&self.meta, key, &digest, repo.as_str()).await?;
        Ok(digest)
    }
}

impl SbomStore for Registry {
    fn store_sbom<'a>(
        &'a self,
        key: &'a ReportKey,
        job: &'a ScanJob,
        sboms: &'a [serde_json::Value],
    ) -> Pin<Box<dyn Future<Output = Result<Digest>> + Send + 'a>> {
        Box::pin(self.push_sbom(key, job, sboms))
    }
}
