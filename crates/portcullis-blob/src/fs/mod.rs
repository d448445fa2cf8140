//! Filesystem backend: blobs under `root/blobs`, sessions under `root/uploads`, and
//! monolithic uploads staged in `root/tmp` (same filesystem, so publishing is a rename).

mod io;
mod upload;

use std::fs::File;
use std::io::{ErrorKind, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use portcullis_types::{Algorithm, Digest, Hasher};

use crate::session::Sessions;
use crate::{BlobError, BlobInfo, BlobReader, FsConfig, hashing, layout};

/// Reads are streamed in pieces of this size: big enough that a thread hand-off per chunk
/// is noise, small enough that a stalled download holds little (see `read_stream`).
const READ_CHUNK: usize = 128 << 10;

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
            None => read_stream(file, 0, size),
            Some(r) => {
                crate::check_range(&r, size)?;
                read_stream(file, r.start, r.end - r.start)
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

/// Streams `len` bytes of `file` from `start`, reading each chunk on a blocking thread
/// only when the previous one has been taken, with one chunk read ahead. A client that
/// stops reading therefore holds no thread and at most two chunks: hundreds of stalled
/// downloads cost memory, never the blocking pool every other transfer needs.
fn read_stream(
    file: std::fs::File,
    start: u64,
    len: u64,
) -> futures::stream::BoxStream<'static, std::io::Result<Bytes>> {
    let mut reader = ChunkReader {
        file: std::sync::Arc::new(file),
        pos: start,
        left: len,
        next: None,
    };
    reader.read_ahead();
    futures::stream::unfold(reader, |mut r| async move {
        let chunk = match r.next.take()?.await {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => return Some((Err(e), r.stopped())),
            Err(e) => return Some((Err(std::io::Error::other(e)), r.stopped())),
        };
        r.read_ahead();
        Some((Ok(Bytes::from(chunk)), r))
    })
    .boxed()
}

struct ChunkReader {
    file: std::sync::Arc<std::fs::File>,
    pos: u64,
    left: u64,
    next: Option<tokio::task::JoinHandle<std::io::Result<Vec<u8>>>>,
}

impl ChunkReader {
    /// Starts reading the next chunk, if any is left.
    fn read_ahead(&mut self) {
        if self.left == 0 {
            return;
        }
        let want = self.left.min(READ_CHUNK as u64);
        let (file, pos) = (self.file.clone(), self.pos);
        self.next = Some(tokio::task::spawn_blocking(move || {
            read_chunk(&file, pos, want)
        }));
        self.pos += want;
        self.left -= want;
    }

    /// After an error the stream ends.
    fn stopped(mut self) -> Self {
        self.left = 0;
        self.next = None;
        self
    }
}

/// `want` bytes of `file` at `pos`; a file that ends sooner is an error (a truncated blob).
fn read_chunk(file: &std::fs::File, pos: u64, want: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let mut f = file;
    f.seek(SeekFrom::Start(pos))?;
    // `read_to_end` on a file fills spare capacity without zeroing it first.
    let mut buf = Vec::with_capacity(want as usize);
    loop {
        match f.take(want - buf.len() as u64).read_to_end(&mut buf) {
            Ok(0) if (buf.len() as u64) < want => {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            Ok(_) if (buf.len() as u64) < want => {}
            Ok(_) => return Ok(buf),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
