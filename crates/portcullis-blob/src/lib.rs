//! The registry's content-addressed blob store, on a local filesystem or S3.
//!
//! Blobs live at `blobs/<algo>/<first two hex>/<hex>` and are deduplicated: publishing a
//! digest that exists is a successful no-op. Nothing becomes visible under a blob's name
//! until its content has been hashed and checked against the digest the client named, and
//! a crash at any point leaves only complete blobs and resumable or expirable sessions.
//!
//! Resumable (chunked) uploads persist their size and SHA-256 state after each append, so
//! a restarted process, or another node sharing the bucket, continues where they stopped.

mod error;
mod fs;
mod hashing;
mod layout;
mod s3;
mod session;
mod types;

#[cfg(feature = "testing")]
pub mod testing;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use futures::stream::BoxStream;
use portcullis_types::Digest;

pub use error::BlobError;
pub use types::{
    BlobInfo, BlobReader, FsConfig, InvalidUploadId, S3Config, UploadId, UploadStatus,
};

use fs::FsBackend;
use s3::S3Backend;

/// Handle to a blob store; cheap to clone and share between tasks.
///
/// Calls are safe to cancel (drop the future): a cancelled upload publishes nothing, and
/// what it staged is removed at once or by [`BlobStore::expire_uploads`].
#[derive(Clone)]
pub struct BlobStore {
    backend: Arc<Backend>,
}

enum Backend {
    Fs(FsBackend),
    S3(S3Backend),
}

/// Runs the same call on whichever backend the store uses.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &*$self.backend {
            Backend::Fs(b) => b.$method($($arg),*).await,
            Backend::S3(b) => b.$method($($arg),*).await,
        }
    };
}

impl BlobStore {
    /// Opens (creating if needed) a store in a local directory.
    pub async fn open_fs(cfg: FsConfig) -> Result<Self, BlobError> {
        Ok(BlobStore {
            backend: Arc::new(Backend::Fs(FsBackend::open(cfg).await?)),
        })
    }

    /// Opens a store in an existing S3 bucket, checking that it can be reached.
    pub async fn open_s3(cfg: S3Config) -> Result<Self, BlobError> {
        Ok(BlobStore {
            backend: Arc::new(Backend::S3(S3Backend::open(cfg).await?)),
        })
    }

    /// The directory of a filesystem store (`None` for S3), for reports of disk space.
    pub fn local_root(&self) -> Option<&std::path::Path> {
        match &*self.backend {
            Backend::Fs(b) => Some(b.root()),
            Backend::S3(_) => None,
        }
    }

    /// Whether the storage can be written and read now (readiness probe).
    pub async fn health(&self) -> Result<(), BlobError> {
        dispatch!(self.health())
    }

    /// Size of a blob, or `None` if it does not exist (`HEAD /v2/<name>/blobs/<digest>`).
    pub async fn stat(&self, d: &Digest) -> Result<Option<u64>, BlobError> {
        dispatch!(self.stat(d))
    }

    /// Streams a blob, or the byte range `range` of it (`GET /v2/<name>/blobs/<digest>`).
    ///
    /// The range must be non-empty and lie inside the blob, else [`BlobError::InvalidRange`].
    pub async fn get(
        &self,
        d: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<BlobReader, BlobError> {
        dispatch!(self.get(d, range))
    }

    /// Reads a small blob (manifest, config) whole into memory.
    pub async fn get_bytes(&self, d: &Digest) -> Result<Bytes, BlobError> {
        dispatch!(self.get_bytes(d))
    }

    /// Stores `data` under `d` after checking that it hashes to `d`. Atomic and idempotent.
    pub async fn put_bytes(&self, d: &Digest, data: Bytes) -> Result<(), BlobError> {
        hashing::verify(d, hashing::digest_of(d.algorithm(), &data))?;
        dispatch!(self.put_verified(d, data))
    }

    /// Monolithic streamed upload (`POST ?digest=`, or a one-shot `PUT`): streams the body
    /// to a staging object while hashing it, and publishes it atomically only if it hashes
    /// to `expected`. Returns the blob's size. On a mismatch nothing becomes visible.
    pub async fn put_stream<S>(&self, expected: &Digest, body: S) -> Result<u64, BlobError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        dispatch!(self.put_stream(expected, body))
    }

    /// Removes a blob; [`BlobError::NotFound`] if it is not there.
    pub async fn delete(&self, d: &Digest) -> Result<(), BlobError> {
        dispatch!(self.delete(d))
    }

    /// Every stored blob, in no particular order, for garbage collection's sweep.
    ///
    /// Blobs published while the listing runs may or may not appear.
    pub fn list_blobs(&self) -> BoxStream<'static, Result<BlobInfo, BlobError>> {
        match &*self.backend {
            Backend::Fs(b) => b.list_blobs(),
            Backend::S3(b) => b.list_blobs(),
        }
    }

    /// Opens a resumable upload session for repository `owner` (`POST /v2/<name>/blobs/uploads/`).
    pub async fn upload_create(&self, owner: &str) -> Result<UploadId, BlobError> {
        dispatch!(self.upload_create(owner))
    }

    /// Appends `body` to a session (`PATCH`); `offset` must equal the session's size, else
    /// [`BlobError::RangeMismatch`]. Returns the new size. An append that fails or is
    /// cancelled leaves the session as it was, so the client can retry from the same offset.
    pub async fn upload_append<S>(
        &self,
        id: &UploadId,
        offset: u64,
        body: S,
    ) -> Result<u64, BlobError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        dispatch!(self.upload_append(id, offset, body))
    }

    /// The session's owner, size and start time (`GET /v2/<name>/blobs/uploads/<id>`).
    pub async fn upload_status(&self, id: &UploadId) -> Result<UploadStatus, BlobError> {
        dispatch!(self.upload_status(id))
    }

    /// Finishes a session (`PUT ?digest=`): verifies the content against `expected`,
    /// publishes it atomically and removes the session. Returns the blob's size. On a
    /// mismatch the session is removed too and [`BlobError::DigestMismatch`] returned.
    pub async fn upload_complete(
        &self,
        id: &UploadId,
        expected: &Digest,
    ) -> Result<u64, BlobError> {
        dispatch!(self.upload_complete(id, expected))
    }

    /// Abandons a session and frees what it stored (`DELETE /v2/<name>/blobs/uploads/<id>`).
    pub async fn upload_cancel(&self, id: &UploadId) -> Result<(), BlobError> {
        dispatch!(self.upload_cancel(id))
    }

    /// Every open session with its status; garbage collection keeps blobs younger than
    /// the oldest of them.
    pub async fn upload_list(&self) -> Result<Vec<(UploadId, UploadStatus)>, BlobError> {
        dispatch!(self.upload_list())
    }

    /// Removes sessions not changed for `older_than` (on S3 aborting their multipart
    /// uploads) and staged data of abandoned monolithic uploads. Returns how many
    /// sessions were removed. Sessions busy on this node are left alone.
    pub async fn expire_uploads(&self, older_than: Duration) -> Result<usize, BlobError> {
        dispatch!(self.expire_uploads(older_than))
    }
}

/// Checks that `r` is a non-empty range inside a blob of `size` bytes.
fn check_range(r: &Range<u64>, size: u64) -> Result<(), BlobError> {
    if r.start < r.end && r.end <= size {
        Ok(())
    } else {
        Err(BlobError::InvalidRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(check_range(&(0..1), 1).is_ok());
        assert!(check_range(&(3..10), 10).is_ok());
        assert!(check_range(&(3..11), 10).is_err());
        assert!(check_range(&(5..5), 10).is_err());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 6..5;
        assert!(check_range(&reversed, 10).is_err());
        assert!(check_range(&(10..11), 10).is_err());
    }
}
