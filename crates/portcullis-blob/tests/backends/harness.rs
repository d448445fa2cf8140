//! Opening a store on each backend, and test data.

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use portcullis_blob::testing::{MotoServer, s3_skipped};
use portcullis_blob::{BlobError, BlobStore, FsConfig, S3Config};
use portcullis_types::{Algorithm, Digest, Hasher};

/// A backend under test; [`Harness::open`] may be called again to simulate a restart.
pub enum Harness {
    Fs(tempfile::TempDir),
    S3 {
        _server: Arc<MotoServer>,
        cfg: S3Config,
    },
}

impl Harness {
    pub fn fs() -> Self {
        Harness::Fs(tempfile::tempdir().expect("temp dir"))
    }

    /// A fresh bucket on the shared moto server, or `None` when S3 tests are skipped.
    pub fn s3() -> Option<Self> {
        if s3_skipped() {
            eprintln!("S3 test skipped: PORTCULLIS_SKIP_S3=1");
            return None;
        }
        let server = MotoServer::shared().unwrap_or_else(|e| panic!("{e}"));
        let bucket = format!("t-{}", uuid::Uuid::new_v4().simple());
        let mut cfg = server.bucket(&bucket).expect("create bucket");
        // Everything under a prefix, as a shared bucket would be used.
        cfg.prefix = Some("/registry/".into());
        Some(Harness::S3 {
            _server: server,
            cfg,
        })
    }

    /// A new store instance on the same storage, as after a process restart.
    pub async fn open(&self) -> BlobStore {
        match self {
            Harness::Fs(dir) => BlobStore::open_fs(FsConfig {
                root: dir.path().to_path_buf(),
            })
            .await
            .expect("open fs store"),
            Harness::S3 { cfg, .. } => BlobStore::open_s3(cfg.clone())
                .await
                .expect("open s3 store"),
        }
    }
}

/// Deterministic incompressible bytes; `seed` tells blobs apart.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn sha512_of(data: &[u8]) -> Digest {
    let mut h = Hasher::new(Algorithm::Sha512);
    h.update(data);
    h.finish()
}

/// `data` as a request body cut into frames of `frame` bytes.
pub fn body(
    data: &[u8],
    frame: usize,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static {
    let frames: Vec<_> = data
        .chunks(frame.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(frames)
}

/// A body that delivers `data` and then fails, like a client that went away.
pub fn broken_body(
    data: &[u8],
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static {
    let frames = vec![
        Ok(Bytes::copy_from_slice(data)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    futures::stream::iter(frames)
}

/// The whole of a blob (or `range` of it) read through `get`, with the reported size.
pub async fn read(
    store: &BlobStore,
    d: &Digest,
    range: Option<std::ops::Range<u64>>,
) -> Result<(u64, Vec<u8>), BlobError> {
    let mut r = store.get(d, range).await?;
    let mut out = Vec::new();
    while let Some(chunk) = r.stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok((r.size, out))
}
