//! Multipart uploads with a few parts in flight at once.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use tokio::task::JoinHandle;

use crate::BlobError;

/// S3's smallest allowed part, except for the last one.
pub(crate) const MIN_PART: usize = 5 << 20;

/// Parts uploaded concurrently per upload: enough to hide request latency, bounded memory.
const IN_FLIGHT: usize = 3;

/// Size of part `idx` of a streamed upload. It grows with the index so that S3's limit of
/// 10,000 parts still allows blobs of hundreds of gigabytes, while small blobs use small parts.
pub(crate) fn part_size(idx: usize) -> usize {
    (8 << 20) * (1 + idx / 1000)
}

/// One multipart upload in progress.
pub(crate) struct Multipart {
    store: Arc<AmazonS3>,
    path: Path,
    id: String,
    next_idx: usize,
    in_flight: VecDeque<JoinHandle<object_store::Result<PartId>>>,
    /// ETags of the parts uploaded through this handle, in order.
    uploaded: Vec<String>,
}

impl Multipart {
    /// Starts a new multipart upload to `path`.
    pub async fn create(store: Arc<AmazonS3>, path: Path) -> Result<Self, BlobError> {
        let id = store.create_multipart(&path).await?;
        Ok(Self::resume(store, path, id, 0))
    }

    /// Continues an upload that already has `parts_done` parts.
    pub fn resume(store: Arc<AmazonS3>, path: Path, id: String, parts_done: usize) -> Self {
        Multipart {
            store,
            path,
            id,
            next_idx: parts_done,
            in_flight: VecDeque::new(),
            uploaded: Vec::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Index the next pushed part will get.
    pub fn next_idx(&self) -> usize {
        self.next_idx
    }

    /// Starts uploading `data` as the next part, first waiting if too many are in flight.
    pub async fn push(&mut self, data: Bytes) -> Result<(), BlobError> {
        if self.in_flight.len() >= IN_FLIGHT {
            self.wait_one().await?;
        }
        let (store, path, id, idx) = (
            self.store.clone(),
            self.path.clone(),
            self.id.clone(),
            self.next_idx,
        );
        self.in_flight.push_back(tokio::spawn(async move {
            store.put_part(&path, &id, idx, data.into()).await
        }));
        self.next_idx += 1;
        Ok(())
    }

    async fn wait_one(&mut self) -> Result<(), BlobError> {
        if let Some(h) = self.in_flight.pop_front() {
            let part = h.await.map_err(|e| BlobError::Backend(Box::new(e)))??;
            self.uploaded.push(part.content_id);
        }
        Ok(())
    }

    /// Waits for every pushed part and returns the ETags of all parts pushed through this handle.
    pub async fn flush(&mut self) -> Result<Vec<String>, BlobError> {
        while !self.in_flight.is_empty() {
            self.wait_one().await?;
        }
        Ok(std::mem::take(&mut self.uploaded))
    }

    /// Makes the object appear, assembled from `etags` (all parts, in order).
    pub async fn complete(&self, etags: Vec<String>) -> Result<(), BlobError> {
        let parts = etags
            .into_iter()
            .map(|content_id| PartId { content_id })
            .collect();
        self.store
            .complete_multipart(&self.path, &self.id, parts)
            .await?;
        Ok(())
    }

    /// Discards the upload and its parts.
    pub async fn abort(&self) -> Result<(), BlobError> {
        abort(&self.store, &self.path, &self.id).await
    }
}

/// Aborts a multipart upload; one already gone (completed or aborted) is not an error.
pub(crate) async fn abort(store: &AmazonS3, path: &Path, id: &str) -> Result<(), BlobError> {
    match store.abort_multipart(path, &id.to_string()).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Aborts a monolithic upload's multipart upload if its future is dropped before it is
/// completed or aborted, so a cancelled push leaves no invisible parts behind to pay for.
pub(crate) struct AbortOnDrop(pub Option<(Arc<AmazonS3>, Path, String)>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some((store, path, id)) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                if let Err(e) = abort(&store, &path, &id).await {
                    tracing::warn!(%path, error = %e, "could not abort cancelled multipart upload");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_cover_large_blobs() {
        assert!(part_size(0) >= MIN_PART);
        let total: u64 = (0..10_000).map(|i| part_size(i) as u64).sum();
        assert!(total > 400 << 30, "{total}");
    }
}
