//! Values passed in and out of the store: configuration, upload ids, statuses, readers.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use bytes::Bytes;
use futures::stream::BoxStream;
use portcullis_types::Digest;
use time::OffsetDateTime;
use uuid::Uuid;

/// Where the filesystem backend keeps its data.
#[derive(Debug, Clone)]
pub struct FsConfig {
    /// Directory holding `blobs/`, `uploads/` and `tmp/`; created if missing.
    pub root: PathBuf,
}

/// How to reach an S3-compatible bucket.
#[derive(Clone)]
pub struct S3Config {
    /// Endpoint URL for non-AWS servers (MinIO, Ceph, Garage); `None` for AWS.
    pub endpoint: Option<String>,
    /// Region name; any value for servers that ignore it.
    pub region: String,
    /// Bucket name; the bucket must exist.
    pub bucket: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Address the bucket in the path (`host/bucket/key`) rather than the host name.
    pub path_style: bool,
    /// Permit plain-HTTP endpoints.
    pub allow_http: bool,
    /// Key prefix under which every object of the store lives.
    pub prefix: Option<String>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Identifier of a resumable upload session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadId(Uuid);

impl UploadId {
    pub(crate) fn new() -> Self {
        UploadId(Uuid::new_v4())
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// An upload id that is not a lowercase hyphenated UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed upload id")]
pub struct InvalidUploadId;

impl FromStr for UploadId {
    type Err = InvalidUploadId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Only the exact form we hand out, so an id maps to exactly one path or key.
        let id = Uuid::try_parse(s).map_err(|_| InvalidUploadId)?;
        if id.hyphenated().to_string() != s {
            return Err(InvalidUploadId);
        }
        Ok(UploadId(id))
    }
}

/// State of an upload session as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadStatus {
    /// Who opened the session (the repository name).
    pub owner: String,
    /// Bytes received so far; the next append starts here.
    pub size: u64,
    /// When the session was opened.
    pub started_at: OffsetDateTime,
}

/// One stored blob, as listed for garbage collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob's digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written; garbage collection spares blobs younger than its grace period.
    pub modified: OffsetDateTime,
}

/// A blob being read: its full size and a stream of the requested bytes.
pub struct BlobReader {
    /// Size of the whole blob, whatever range was asked for.
    pub size: u64,
    /// The requested bytes.
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobReader")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_id_round_trips_and_rejects_junk() {
        let s = "6f1cab3b-9d2e-4c7a-8e5f-0a1b2c3d4e5f".to_string();
        let id: UploadId = s.parse().unwrap();
        assert_eq!(id.to_string(), s);
        let fresh = UploadId::new();
        assert_eq!(fresh.to_string().parse::<UploadId>().unwrap(), fresh);
        assert_eq!(s.len(), 36);
        assert_eq!(s.parse::<UploadId>().unwrap(), id);
        for junk in [
            "",
            "../etc/passwd",
            "not-a-uuid",
            &s.to_uppercase(),
            &s.replace('-', ""),
            &format!("{{{s}}}"),
            &format!("urn:uuid:{s}"),
            &format!("{s}/x"),
        ] {
            assert!(junk.parse::<UploadId>().is_err(), "{junk:?} accepted");
        }
    }

    #[test]
    fn s3_config_debug_hides_secret() {
        let cfg = S3Config {
            endpoint: None,
            region: "r".into(),
            bucket: "b".into(),
            access_key: "AK".into(),
            secret_key: "very-secret".into(),
            path_style: true,
            allow_http: false,
            prefix: None,
        };
        assert!(!format!("{cfg:?}").contains("very-secret"));
    }
}
