//! Filesystem backend: blobs under `root/blobs`, sessions under `root/uploads`, and
//! monolithic uploads staged in `root/tmp` (same filesystem, so publishing is a rename).

mod io;
mod read;
mod upload;

use std::fs::File;
use std::io::ErrorKind;
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use portcullis_types::{Algorithm, Digest, Hasher};

use crate::session::Sessions;
use crate::{BlobError, BlobInfo, BlobReader, FsConfig, hashing, layout};

pub(crate) struct FsBackend {
    root: PathBuf,
    sessions: Sessions,
}

impl FsBackend {
    pub(crate) fn root(&self) -> &std::path::Path {
        &self.root
    }
}

/// Removes a staged file unless it was published; covers errors and cancelled uploads.
struct Staged(Option<PathBuf>);

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            // Best effort: `expire_uploads` sweeps whatever is left behind.
            let _ = std::fs::remove_file(p);
        }
    }
}

fn not_found_as<T>(e: std::io::Error, err: BlobError) -> Result<T, BlobError> {
    if e.kind() == ErrorKind::NotFound {
        Err(err)
    } else {
        Err(BlobError::Io(e))
    }
}

impl FsBackend {
    pub async fn open(cfg: FsConfig) -> Result<Self, BlobError> {
        let root = cfg.root;
        for sub in ["blobs", layout::UPLOADS, "tmp"] {
            tokio::fs::create_dir_all(root.join(sub)).await?;
        }
        Ok(FsBackend {
            root,
            sessions: Sessions::default(),
        })
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join(layout::blob_key(d))
    }

    fn tmp_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().to_string())
    }

    pub async fn health(&self) -> Result<(), BlobError> {
        let probe = self.tmp_path();
        io::blocking(move || {
            let _staged = Staged(Some(probe.clone()));
            io::write_file_synced(&probe, b"ok")
        })
        .await
    }

    pub async fn stat(&self, d: &Digest) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.blob_path(d)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(
        &self,
        d: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<BlobReader, BlobError> {
        let file = match tokio::fs::File::open(self.blob_path(d)).await {
            Ok(f) => f.into_std().await,
            Err(e) => return not_found_as(e, BlobError::NotFound),
        };
        let size = file.metadata()?.len();
        let stream = match range {
            None => read::read_stream(file, 0, size),
            Some(r) => {
                crate::check_range(&r, size)?;
                read::read_stream(file, r.start, r.end - r.start)
            }
        };
        Ok(BlobReader { size, stream })
    }

    pub async fn get_bytes(&self, d: &Digest) -> Result<Bytes, BlobError> {
        match tokio::fs::read(self.blob_path(d)).await {
            Ok(v) => Ok(Bytes::from(v)),
            Err(e) => not_found_as(e, BlobError::NotFound),
        }
    }

    /// Stores `data`, already checked to hash to `d`.
    pub async fn put_verified(&self, d: &Digest, data: Bytes) -> Result<(), BlobError> {
        if self.stat(d).await?.is_some() {
            return Ok(());
        }
        let tmp = self.tmp_path();
        let dest = self.blob_path(d);
        io::blocking(move || {
            let mut staged = Staged(Some(tmp.clone()));
            io::write_file_synced(&tmp, &data)?;
            io::publish(&tmp, &dest)?;
            staged.0 = None;
            Ok(())
        })
        .await
    }

    pub async fn put_stream<S>(&self, expected: &Digest, body: S) -> Result<u64, BlobError>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let tmp = self.tmp_path();
        let file = {
            let tmp = tmp.clone();
            io::blocking(move || File::create(tmp)).await?
        };
        let mut staged = Staged(Some(tmp.clone()));
        let mut hasher = Hasher::new(expected.algorithm());
        let size = io::write_stream(file, body, &mut hasher).await?;
        hashing::verify(expected, hasher.finish())?;
        if self.stat(expected).await?.is_none() {
            let dest = self.blob_path(expected);
            io::blocking(move || io::publish(&tmp, &dest)).await?;
            staged.0 = None;
        }
        Ok(size)
    }

    pub async fn delete(&self, d: &Digest) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.blob_path(d)).await {
            Ok(()) => Ok(()),
            Err(e) => not_found_as(e, BlobError::NotFound),
        }
    }

    pub fn list_blobs(&self) -> BoxStream<'static, Result<BlobInfo, BlobError>> {
        let blobs = self.root.join("blobs");
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::task::spawn_blocking(move || {
            // A send fails only when the reader stopped listening: stop walking too.
            if let Err(e) = walk_blobs(&blobs, &tx) {
                let _ = tx.blocking_send(Err(BlobError::Io(e)));
            }
        });
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
            .boxed()
    }

    /// Removes staged files of monolithic uploads abandoned before `cutoff`.
    async fn sweep_tmp(&self, cutoff: std::time::SystemTime) -> Result<(), BlobError> {
        let dir = self.root.join("tmp");
        io::blocking(move || {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                if modified_before(&entry.path(), cutoff) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            Ok(())
        })
        .await
    }
}

/// Sends every blob under `blobs/<algo>/<fan>/` to `tx`, until `tx` is closed.
fn walk_blobs(
    blobs: &Path,
    tx: &tokio::sync::mpsc::Sender<Result<BlobInfo, BlobError>>,
) -> std::io::Result<()> {
    for algo in [Algorithm::Sha256, Algorithm::Sha512] {
        let dir = blobs.join(algo.as_str());
        if !dir.is_dir() {
            continue;
        }
        for fan in std::fs::read_dir(dir)? {
            let fan = fan?.path();
            if !fan.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(fan)? {
                let entry = entry?;
                let name = entry.file_name();
                let Some(digest) = name
                    .to_str()
                    .and_then(|hex| Digest::parse(&format!("{}:{hex}", algo.as_str())).ok())
                else {
                    continue;
                };
                let meta = entry.metadata()?;
                let info = BlobInfo {
                    digest,
                    size: meta.len(),
                    modified: meta.modified()?.into(),
                };
                if tx.blocking_send(Ok(info)).is_err() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Whether the file or directory at `p` was last changed before `cutoff`.
fn modified_before(p: &Path, cutoff: std::time::SystemTime) -> bool {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t < cutoff)
}
