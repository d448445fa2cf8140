//! Blobs and uploads of `/v2/`: reads, deletes, cross-repository mounts and upload
//! sessions, each checked against the repository the client named.

use bytes::Bytes;
use futures::Stream;
use portcullis_blob::{BlobReader, BlobStore, UploadId, UploadStatus};
use portcullis_meta::MetaStore;
use portcullis_types::{Digest, ErrorCode, RepoName};

use crate::access::ProjectInfo;
use crate::error::{Error, Result};

/// Who uploads: the project it goes into and the account acting, for quota events.
pub struct Uploader<'a> {
    pub project: &'a ProjectInfo,
    pub operator: &'a str,
}

/// The blob and upload service of `/v2/`.
pub struct Uploads {
    meta: MetaStore,
    blobs: BlobStore,
    /// Quota events of uploads (a refusal, a warning threshold crossed).
    policy: std::sync::Arc<crate::policy::Policy>,
}

impl Uploads {
    pub fn new(
        meta: MetaStore,
        blobs: BlobStore,
        policy: std::sync::Arc<crate::policy::Policy>,
    ) -> Self {
        Uploads {
            meta,
            blobs,
            policy,
        }
    }

    /// Size of a blob visible in `repo`.
    pub async fn blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<u64> {
        match self.meta.blobs().blob_in_repository(repo, digest).await? {
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
        if self.meta.blobs().unlink_blob(r.id, digest).await? {
            Ok(())
        } else {
            Err(Error::code(ErrorCode::BlobUnknown))
        }
    }

    pub(crate) async fn repository(&self, repo: &RepoName) -> Result<portcullis_meta::Repository> {
        self.meta
            .repositories()
            .get_repository(repo)
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NameUnknown,
                    format!("repository name not known to registry: {repo}"),
                )
                .with_detail(serde_json::json!({ "name": repo.as_str() }))
            })
    }

    /// Links a stored blob to `repo`, counting it against the project's quota when it
    /// is new there (Harbor's QUOTA_EXCEED and QUOTA_WARNING events follow, as for a
    /// manifest); a blob that does not fit is refused and stays unlinked.
    async fn adopt_blob(
        &self,
        who: &Uploader<'_>,
        repo: &RepoName,
        digest: &Digest,
        size: u64,
    ) -> Result<()> {
        let r = self
            .meta
            .repositories()
            .ensure_repository(portcullis_meta::ProjectId(who.project.id), repo)
            .await?;
        self.meta.blobs().record_blob(digest, size, None).await?;
        let commit = crate::policy::quota::Commit {
            project: who.project,
            repo,
            digest: digest.as_str(),
            tag: None,
            operator: who.operator,
        };
        match self.meta.blobs().link_blob(r.id, digest).await {
            Ok(usage) => {
                if let Some(u) = usage {
                    self.policy.quota_outcome(&commit, Ok(u));
                }
                Ok(())
            }
            Err(portcullis_meta::Error::QuotaExceeded {
                hard,
                used,
                requested,
            }) => {
                self.policy
                    .quota_outcome(&commit, Err((hard, used, requested)));
                Err(crate::error::quota_exceeded_error(hard, used, requested))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Cross-repository mount: `Ok(true)` when the blob now belongs to `repo`.
    pub async fn mount(
        &self,
        who: &Uploader<'_>,
        repo: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<bool> {
        let Some(b) = self.meta.blobs().blob_in_repository(from, digest).await? else {
            return Ok(false);
        };
        if self.blobs.stat(digest).await?.is_none() {
            return Ok(false);
        }
        self.adopt_blob(who, repo, digest, b.size).await?;
        Ok(true)
    }

    /// Monolithic upload in one request.
    pub async fn put_blob<S>(
        &self,
        who: &Uploader<'_>,
        repo: &RepoName,
        digest: &Digest,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let size = self.blobs.put_stream(digest, body).await?;
        self.adopt_blob(who, repo, digest, size).await?;
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
        who: &Uploader<'_>,
        repo: &RepoName,
        id: &UploadId,
        digest: &Digest,
    ) -> Result<u64> {
        self.upload_status(repo, id).await?;
        let size = self.blobs.upload_complete(id, digest).await?;
        self.adopt_blob(who, repo, digest, size).await?;
        Ok(size)
    }

    pub async fn cancel_upload(&self, repo: &RepoName, id: &UploadId) -> Result<()> {
        self.upload_status(repo, id).await?;
        Ok(self.blobs.upload_cancel(id).await?)
    }

    // ---- manifests ------------------------------------------------------------------
}
