//! S3 backend (any S3-compatible server) through `object_store`.
//!
//! A blob's key only ever holds verified content: small blobs are written by one PUT
//! after hashing, large monolithic uploads by a multipart upload to the final key that is
//! completed only once the digest matches (and aborted otherwise).

mod multipart;
mod upload;

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use portcullis_types::{Digest, Hasher};

use crate::session::Sessions;
use crate::{BlobError, BlobInfo, BlobReader, S3Config, check_range, hashing, layout};
use multipart::{AbortOnDrop, Multipart, part_size};

pub(crate) struct S3Backend {
    store: Arc<AmazonS3>,
    prefix: String,
    sessions: Sessions,
}

impl S3Backend {
    pub async fn open(cfg: S3Config) -> Result<Self, BlobError> {
        let mut b = AmazonS3Builder::new()
            .with_region(cfg.region)
            .with_bucket_name(cfg.bucket)
            .with_access_key_id(cfg.access_key)
            .with_secret_access_key(cfg.secret_key)
            .with_allow_http(cfg.allow_http)
            .with_virtual_hosted_style_request(!cfg.path_style);
        if let Some(ep) = cfg.endpoint {
            b = b.with_endpoint(ep);
        }
        let prefix = cfg
            .prefix
            .map(|p| p.trim_matches('/').to_string())
            .filter(|p| !p.is_empty())
            .map(|p| format!("{p}/"))
            .unwrap_or_default();
        let backend = S3Backend {
            store: Arc::new(b.build()?),
            prefix,
            sessions: Sessions::default(),
        };
        backend.health().await?;
        Ok(backend)
    }

    /// The object path of `rel` (a [`layout`] key) under the configured prefix.
    fn key(&self, rel: &str) -> Path {
        Path::from(format!("{}{rel}", self.prefix))
    }

    fn blob_key(&self, d: &Digest) -> Path {
        self.key(&layout::blob_key(d))
    }

    pub async fn health(&self) -> Result<(), BlobError> {
        // Listing fails on a missing bucket or bad credentials, and writes nothing.
        self.store
            .list_with_delimiter(Some(&self.key(layout::UPLOADS)))
            .await?;
        Ok(())
    }

    pub async fn stat(&self, d: &Digest) -> Result<Option<u64>, BlobError> {
        self.size_of(&self.blob_key(d)).await
    }

    async fn size_of(&self, path: &Path) -> Result<Option<u64>, BlobError> {
        match self.store.head(path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(
        &self,
        d: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<BlobReader, BlobError> {
        if let Some(r) = &range {
            check_range(r, u64::MAX)?;
        }
        let opts = GetOptions::new().with_range(range.clone().map(GetRange::Bounded));
        let res = match self.store.get_opts(&self.blob_key(d), opts).await {
            Ok(res) => res,
            Err(object_store::Error::NotFound { .. }) => return Err(BlobError::NotFound),
            Err(e) => {
                // S3 refuses a range starting past the end; tell that apart from a real failure.
                if let (Some(r), Ok(Some(size))) = (&range, self.stat(d).await) {
                    check_range(r, size)?;
                }
                return Err(e.into());
            }
        };
        let size = res.meta.size;
        if let Some(r) = &range {
            // S3 answers a range that runs past the end with what there is.
            check_range(r, size)?;
        }
        let stream = res.into_stream().map_err(std::io::Error::other).boxed();
        Ok(BlobReader { size, stream })
    }

    pub async fn get_bytes(&self, d: &Digest) -> Result<Bytes, BlobError> {
        Ok(self.store.get(&self.blob_key(d)).await?.bytes().await?)
    }

    /// Stores `data`, already checked to hash to `d`.
    pub async fn put_verified(&self, d: &Digest, data: Bytes) -> Result<(), BlobError> {
        let key = self.blob_key(d);
        if self.size_of(&key).await?.is_none() {
            self.store.put(&key, data.into()).await?;
        }
        Ok(())
    }

    pub async fn put_stream<S>(&self, expected: &Digest, mut body: S) -> Result<u64, BlobError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let key = self.blob_key(expected);
        let mut hasher = Hasher::new(expected.algorithm());
        let mut total = 0u64;
        let mut buf = BytesMut::new();
        let mut upload: Option<Multipart> = None;
        let mut guard = AbortOnDrop(None);
        while let Some(frame) = body.next().await {
            let frame = frame.map_err(BlobError::Body)?;
            hasher.update(&frame);
            total += frame.len() as u64;
            buf.extend_from_slice(&frame);
            let want = part_size(upload.as_ref().map_or(0, Multipart::next_idx));
            if buf.len() >= want {
                let mp = match &mut upload {
                    Some(mp) => mp,
                    None => {
                        let mp = Multipart::create(self.store.clone(), key.clone()).await?;
                        guard.0 = Some((self.store.clone(), key.clone(), mp.id().to_string()));
                        upload.insert(mp)
                    }
                };
                mp.push(buf.split_to(want).freeze()).await?;
            }
        }
        let computed = hasher.finish();
        let Some(mut mp) = upload else {
            hashing::verify(expected, computed)?;
            if self.size_of(&key).await?.is_none() {
                self.store.put(&key, buf.freeze().into()).await?;
            }
            return Ok(total);
        };
        let matches = computed == *expected;
        let exists = matches && self.size_of(&key).await?.is_some();
        if !matches || exists {
            // Parts still uploading could outlive the abort and be kept (and billed).
            let _ = mp.flush().await;
            mp.abort().await?;
            guard.0 = None;
            hashing::verify(expected, computed)?;
            return Ok(total);
        }
        if !buf.is_empty() {
            mp.push(buf.freeze()).await?;
        }
        let etags = mp.flush().await?;
        mp.complete(etags).await?;
        guard.0 = None;
        Ok(total)
    }

    pub async fn delete(&self, d: &Digest) -> Result<(), BlobError> {
        let key = self.blob_key(d);
        // S3 deletes are silent about missing keys; the caller wants to know.
        if self.size_of(&key).await?.is_none() {
            return Err(BlobError::NotFound);
        }
        self.store.delete(&key).await?;
        Ok(())
    }

    pub fn list_blobs(&self) -> BoxStream<'static, Result<BlobInfo, BlobError>> {
        let root = format!("{}blobs/", self.prefix);
        self.store
            .list(Some(&self.key("blobs")))
            .map_err(BlobError::from)
            .try_filter_map(move |meta| {
                let info = blob_info(&root, &meta);
                if info.is_none() {
                    tracing::warn!(key = %meta.location, "object under blobs/ is not a blob");
                }
                futures::future::ready(Ok(info))
            })
            .boxed()
    }

    /// Hashes a stored object with `algo`, streaming it.
    async fn hash_object(
        &self,
        path: &Path,
        algo: portcullis_types::Algorithm,
    ) -> Result<Digest, BlobError> {
        let mut stream = self.store.get(path).await?.into_stream();
        let mut h = Hasher::new(algo);
        while let Some(chunk) = stream.next().await {
            h.update(&chunk?);
        }
        Ok(h.finish())
    }
}

/// The blob an object under `root` (`<prefix>blobs/`) holds, if its key is a blob key.
fn blob_info(root: &str, meta: &object_store::ObjectMeta) -> Option<BlobInfo> {
    let rel = meta.location.as_ref().strip_prefix(root)?;
    let mut parts = rel.split('/');
    let (algo, _fan, hex) = (parts.next()?, parts.next()?, parts.next()?);
    let digest = Digest::parse(&format!("{algo}:{hex}")).ok()?;
    if parts.next().is_some() || layout::blob_key(&digest) != format!("blobs/{rel}") {
        return None;
    }
    let modified =
        time::OffsetDateTime::from_unix_timestamp(meta.last_modified.timestamp()).ok()?;
    Some(BlobInfo {
        digest,
        size: meta.size,
        modified,
    })
}
