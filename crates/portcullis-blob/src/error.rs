//! The one error type of the blob store.

use portcullis_types::Digest;

/// What went wrong in a blob store call.
///
/// [`BlobError::is_permanent`] tells whether retrying the same call can succeed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The blob does not exist. Permanent.
    #[error("blob not found")]
    NotFound,
    /// The upload session does not exist (never created, completed, cancelled or expired). Permanent.
    #[error("upload session not found")]
    UploadNotFound,
    /// An append did not start where the session ends. Permanent for that offset.
    #[error("upload offset mismatch: the session holds {expected_offset} bytes")]
    RangeMismatch {
        /// The session's current size, where the next append must start.
        expected_offset: u64,
    },
    /// The uploaded content does not hash to the digest the client named. Permanent; nothing was published.
    #[error("content does not match the expected digest; it hashes to {computed}")]
    DigestMismatch {
        /// What the content actually hashes to.
        computed: Digest,
    },
    /// A range read asked for bytes outside the blob, or an empty or reversed range. Permanent.
    #[error("requested range is outside the blob")]
    InvalidRange,
    /// Reading the request body failed (client went away, body too short). Permanent for that request.
    #[error("reading the upload body failed: {0}")]
    Body(#[source] std::io::Error),
    /// Local storage failed. Possibly transient.
    #[error("storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The object store failed or holds data the store cannot read. Possibly transient.
    #[error("object store error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl BlobError {
    /// Whether repeating the same call cannot succeed, so a caller should not retry it.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, BlobError::Io(_) | BlobError::Backend(_))
    }

    pub(crate) fn backend(msg: impl Into<String>) -> Self {
        BlobError::Backend(msg.into().into())
    }
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound,
            other => BlobError::Backend(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanence() {
        assert!(BlobError::NotFound.is_permanent());
        assert!(BlobError::RangeMismatch { expected_offset: 3 }.is_permanent());
        assert!(!BlobError::Io(std::io::Error::other("disk")).is_permanent());
        assert!(!BlobError::backend("s3 down").is_permanent());
        let nf = object_store::Error::NotFound {
            path: "x".into(),
            source: "gone".into(),
        };
        assert!(matches!(BlobError::from(nf), BlobError::NotFound));
    }
}
