//! Blocking file work for the filesystem backend, run off the async threads.

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use portcullis_types::{Algorithm, Hasher};

use crate::BlobError;

/// Writes go to disk in pieces of about this size: few syscalls, little memory.
const WRITE_CHUNK: usize = 1 << 20;

/// Runs blocking file work on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, BlobError>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Io(io::Error::other(e)))?
        .map_err(BlobError::Io)
}

/// Frames at least this large are written from where they are; smaller ones are copied
/// together first, so that a body of tiny frames does not become tiny writes.
const SMALL_FRAME: usize = 16 << 10;

/// Groups incoming frames into batches of about [`WRITE_CHUNK`] bytes for one `writev`.
#[derive(Default)]
struct Batcher {
    batch: Vec<Bytes>,
    len: usize,
    small: BytesMut,
}

impl Batcher {
    /// Adds a frame; returns a batch when one is full.
    fn push(&mut self, frame: Bytes) -> Option<Vec<Bytes>> {
        self.len += frame.len();
        if frame.len() < SMALL_FRAME {
            self.small.extend_from_slice(&frame);
            if self.small.len() >= SMALL_FRAME {
                self.batch.push(self.small.split().freeze());
            }
        } else {
            if !self.small.is_empty() {
                self.batch.push(self.small.split().freeze());
            }
            self.batch.push(frame);
        }
        (self.len >= WRITE_CHUNK).then(|| self.take())
    }

    /// Whatever is left, at the end of the body.
    fn take(&mut self) -> Vec<Bytes> {
        if !self.small.is_empty() {
            self.batch.push(self.small.split().freeze());
        }
        self.len = 0;
        std::mem::take(&mut self.batch)
    }
}

/// Writes every buffer of `bufs`, in order, with as few syscalls as the kernel allows.
fn write_all_vectored(file: &mut File, bufs: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Streams `body` to the end of `file` while hashing it, then flushes the file to disk.
///
/// Each batch of about [`WRITE_CHUNK`] bytes is written by its own blocking task while
/// this task hashes the next one, so hashing and disk writes overlap; frames are not
/// copied except small ones. No thread waits on the client between batches: a slow or
/// stalled upload holds a file and a batch, never a thread of the blocking pool that
/// every other transfer needs. Returns the number of bytes written.
pub(crate) async fn write_stream<S>(
    file: File,
    mut body: S,
    hasher: &mut Hasher,
) -> Result<u64, BlobError>
where
    S: Stream<Item = io::Result<Bytes>> + Send + Unpin,
{
    type Writing = tokio::task::JoinHandle<io::Result<File>>;
    // The file is with the write in flight, if any; it comes back when that one ends.
    async fn finished(file: &mut Option<File>, writing: &mut Option<Writing>) -> io::Result<()> {
        if let Some(w) = writing.take() {
            *file = Some(w.await.map_err(io::Error::other)??);
        }
        Ok(())
    }
    fn start(mut file: File, bufs: Vec<Bytes>) -> Writing {
        tokio::task::spawn_blocking(move || {
            write_all_vectored(&mut file, &bufs)?;
            Ok(file)
        })
    }

    let mut file = Some(file);
    let mut writing: Option<Writing> = None;
    let mut total = 0u64;
    let mut batcher = Batcher::default();
    let mut fed: Result<(), BlobError> = Ok(());
    while let Some(frame) = body.next().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                fed = Err(BlobError::Body(e));
                break;
            }
        };
        hasher.update(&frame);
        total += frame.len() as u64;
        if let Some(batch) = batcher.push(frame) {
            finished(&mut file, &mut writing).await?;
            if let Some(f) = file.take() {
                writing = Some(start(f, batch));
            }
        }
    }
    finished(&mut file, &mut writing).await?;
    fed?;
    let rest = batcher.take();
    let file = file.ok_or_else(|| io::Error::other("the upload's file was lost"))?;
    blocking(move || {
        let mut file = file;
        if !rest.is_empty() {
            write_all_vectored(&mut file, &rest)?;
        }
        file.sync_data()
    })
    .await?;
    Ok(total)
}

/// Writes `data` to a new file at `path` and flushes it to disk.
pub(crate) fn write_file_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    f.sync_data()
}

/// Digest of the first `len` bytes of the file at `path`.
pub(crate) async fn hash_file(
    path: PathBuf,
    algo: Algorithm,
    len: u64,
) -> Result<Hasher, BlobError> {
    blocking(move || {
        let mut h = Hasher::new(algo);
        let mut f = File::open(&path)?.take(len);
        let mut buf = vec![0u8; WRITE_CHUNK];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h)
    })
    .await
}

/// Makes a completed rename or creation inside `dir` survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Moves a fully written, flushed file to its content address, creating the fan-out
/// directory if needed, and makes the move durable.
pub(crate) fn publish(tmp: &Path, dest: &Path) -> io::Result<()> {
    let parent = dest.parent().expect("blob paths have a parent");
    if !parent.is_dir() {
        std::fs::create_dir_all(parent)?;
        if let Some(grand) = parent.parent() {
            sync_dir(grand)?;
        }
    }
    // Same content under the same name: a concurrent publish of this digest is harmless.
    std::fs::rename(tmp, dest)?;
    sync_dir(parent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_types::Digest;

    #[tokio::test]
    async fn write_stream_coalesces_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        // Small frames, large frames, and a mix that crosses batch boundaries.
        let frames: Vec<io::Result<Bytes>> = (0..300u32)
            .map(|i| {
                Ok(Bytes::from(vec![
                    (i % 251) as u8;
                    [7001, 100, 70_000][i as usize % 3]
                ]))
            })
            .chain(std::iter::once(Ok(Bytes::from(vec![9u8; 3 << 20]))))
            .collect();
        let expected: Vec<u8> = frames
            .iter()
            .flat_map(|f| f.as_ref().unwrap().to_vec())
            .collect();
        let mut h = Hasher::new(Algorithm::Sha256);
        let n = write_stream(
            File::create(&path).unwrap(),
            futures::stream::iter(frames),
            &mut h,
        )
        .await
        .unwrap();
        assert_eq!(n, expected.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        assert_eq!(h.finish(), Digest::sha256_of(&expected));
        let again = hash_file(path, Algorithm::Sha256, 7001).await.unwrap();
        assert_eq!(again.finish(), Digest::sha256_of(&expected[..7001]));
    }

    #[tokio::test]
    async fn write_stream_reports_body_errors() {
        let dir = tempfile::tempdir().unwrap();
        let frames = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(io::Error::other("client went away")),
        ];
        let mut h = Hasher::new(Algorithm::Sha256);
        let err = write_stream(
            File::create(dir.path().join("f")).unwrap(),
            futures::stream::iter(frames),
            &mut h,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, BlobError::Body(_)), "{err:?}");
    }
}
