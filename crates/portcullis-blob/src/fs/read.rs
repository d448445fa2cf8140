//! Blob downloads from files. Each chunk is read on the blocking pool only when the
//! response body asks for it, with one chunk read ahead, so that a client that stops
//! reading holds no thread — hundreds of stalled downloads must never take the blocking
//! pool every other transfer needs.
//!
//! Chunks grow from [`FIRST`] to [`MAX`] as a transfer goes on (small chunks throughout
//! cost a third of the pull throughput in thread hand-offs). Large chunks are paid for
//! from one process-wide [`BUDGET`], released when the bytes are written out and
//! dropped; without budget left a download falls back to [`FIRST`]-sized chunks. A
//! flood of stalled downloads (whose first megabytes the kernel's socket buffers absorb,
//! so they ramp up like any other) thus holds at most the budget plus two small chunks
//! each, while normal transfers keep large chunks whenever the budget allows.

use std::io::{ErrorKind, SeekFrom};
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A download's first chunk, and the size of every chunk when the budget is spent.
const FIRST: u64 = 64 << 10;
/// The largest chunk.
const MAX: u64 = 1 << 20;
/// The budget's unit.
const UNIT: u64 = 64 << 10;
/// Bytes of chunks larger than [`FIRST`] held at once by all downloads of the process.
const BUDGET_BYTES: u64 = 256 << 20;

static BUDGET: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new((BUDGET_BYTES / UNIT) as usize)));

/// Streams `len` bytes of `file` from `start`.
pub(super) fn read_stream(
    file: std::fs::File,
    start: u64,
    len: u64,
) -> futures::stream::BoxStream<'static, std::io::Result<Bytes>> {
    let mut reader = ChunkReader {
        file: Arc::new(file),
        pos: start,
        left: len,
        chunk: FIRST,
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
        Some((Ok(chunk), r))
    })
    .boxed()
}

struct ChunkReader {
    file: Arc<std::fs::File>,
    pos: u64,
    left: u64,
    /// Size of the next chunk to read, budget allowing.
    chunk: u64,
    next: Option<tokio::task::JoinHandle<std::io::Result<Bytes>>>,
}

impl ChunkReader {
    /// Starts reading the next chunk, if any is left.
    fn read_ahead(&mut self) {
        if self.left == 0 {
            return;
        }
        let mut want = self.left.min(self.chunk);
        let mut permit = None;
        if want > FIRST {
            match BUDGET
                .clone()
                .try_acquire_many_owned(want.div_ceil(UNIT) as u32)
            {
                Ok(p) => permit = Some(p),
                // No budget left: small chunks until there is.
                Err(_) => {
                    want = FIRST;
                    self.chunk = FIRST;
                }
            }
        }
        self.chunk = (self.chunk * 2).min(MAX);
        let (file, pos) = (self.file.clone(), self.pos);
        self.next = Some(tokio::task::spawn_blocking(move || {
            let buf = read_chunk(&file, pos, want)?;
            Ok(match permit {
                Some(permit) => Bytes::from_owner(Paid {
                    buf,
                    _permit: permit,
                }),
                None => Bytes::from(buf),
            })
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

/// A chunk's bytes with the budget they hold, given back when the last copy is dropped.
struct Paid {
    buf: Vec<u8>,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Paid {
    fn as_ref(&self) -> &[u8] {
        &self.buf
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn chunks_grow_and_cover_the_range_exactly() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let chunks: Vec<Bytes> = read_stream(f, 1000, 4_000_000)
            .map(|c| c.unwrap())
            .collect()
            .await;
        let sizes: Vec<usize> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(&sizes[..3], &[64 << 10, 128 << 10, 256 << 10]);
        assert!(sizes.iter().all(|s| *s as u64 <= MAX));
        let joined: Vec<u8> = chunks.concat();
        assert_eq!(joined, data[1000..4_001_000]);
    }

    #[tokio::test]
    async fn a_short_file_is_an_error() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"short").unwrap();
        let got: Vec<_> = read_stream(f, 0, 10).collect().await;
        assert!(got.last().unwrap().is_err());
    }
}
