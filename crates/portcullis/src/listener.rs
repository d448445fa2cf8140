//! The listening socket's guard: how many connections are open at once, and how long a
//! connection may sit on a response the client does not read. Together with hyper's
//! header deadline (set in [`serve`](crate::serve)) these keep slow or hostile clients
//! from holding sockets, file descriptors and memory that every other client needs.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use futures::future::BoxFuture;
use portcullis_api::limits::Stall;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// File descriptors kept back from connections, for the database, blob files and logs.
const RESERVED_FDS: u64 = 256;

/// What a plain-HTTP client hears when every connection slot is taken: an answer it can
/// retry, rather than a reset or a hang in the kernel's backlog.
fn busy_response() -> Vec<u8> {
    let code = portcullis_types::ErrorCode::ServiceUnavailable;
    let body = serde_json::json!({"errors": [{
        "code": code.as_str(),
        "message": "too many open connections; retry later",
    }]})
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Accepts connections while fewer than the limit are open, and wraps each in [`Guarded`].
#[derive(Clone)]
pub struct Guard {
    slots: Arc<Semaphore>,
    send_timeout: Duration,
    /// Whether a refused connection may be told so in plain HTTP (not under TLS).
    plain_http: bool,
}

impl Guard {
    pub fn new(max_connections: usize, send_timeout: Duration, plain_http: bool) -> Self {
        Guard {
            slots: Arc::new(Semaphore::new(max_connections)),
            send_timeout,
            plain_http,
        }
    }
}

impl<S: Send + 'static> Accept<TcpStream, S> for Guard {
    type Stream = Guarded<TcpStream>;
    type Service = S;
    type Future = BoxFuture<'static, io::Result<(Guarded<TcpStream>, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let slot = self.slots.clone().try_acquire_owned();
        let send_timeout = self.send_timeout;
        let plain_http = self.plain_http;
        Box::pin(async move {
            match slot {
                Ok(slot) => Ok((Guarded::new(stream, slot, send_timeout), service)),
                Err(_) => {
                    if plain_http {
                        let mut stream = stream;
                        let _ = tokio::time::timeout(
                            Duration::from_secs(1),
                            stream.write_all(&busy_response()),
                        )
                        .await;
                    }
                    Err(io::Error::other("connection limit reached"))
                }
            }
        })
    }
}

/// A connection holding its slot, whose writes fail once the peer has accepted no byte
/// for the send timeout (nginx's `send_timeout`): a download nobody reads ends.
pub struct Guarded<S> {
    inner: S,
    stall: Stall,
    _slot: OwnedSemaphorePermit,
}

impl<S> Guarded<S> {
    fn new(inner: S, slot: OwnedSemaphorePermit, send_timeout: Duration) -> Self {
        Guarded {
            inner,
            stall: Stall::new(send_timeout),
            _slot: slot,
        }
    }

    /// Notes the outcome of a write-side poll; a wait past the deadline becomes an error.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Pending if self.stall.expired(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client accepted no data within the send timeout",
            ))),
            Poll::Pending => Poll::Pending,
            ready => {
                self.stall.progress();
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Raises the soft limit on open files to the hard limit (as Go's runtime does), and
/// returns how many connections fit under it with [`RESERVED_FDS`] kept back.
pub fn connections_that_fit(wanted: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if setrlimit(Resource::Nofile, limit).is_err() {
            limit = getrlimit(Resource::Nofile);
        }
    }
    let Some(open_files) = limit.current else {
        return wanted;
    };
    let fit = usize::try_from(open_files.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(wanted);
    if fit < wanted {
        tracing::warn!(
            wanted,
            fit,
            open_files,
            "the open-file limit allows fewer connections than configured"
        );
    }
    wanted.min(fit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_reader_that_stops_ends_the_write_and_frees_the_slot() {
        let slots = Arc::new(Semaphore::new(1));
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut conn = Guarded::new(
            ours,
            slots.clone().try_acquire_owned().unwrap(),
            Duration::from_millis(200),
        );
        assert_eq!(slots.available_permits(), 0);
        // The peer reads a little, then stops: the writer fills the pipe and waits.
        let mut first = [0u8; 512];
        let big = vec![7u8; 64 << 10];
        let (written, _) = tokio::join!(conn.write_all(&big), theirs.read_exact(&mut first));
        let err = written.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(conn);
        assert_eq!(slots.available_permits(), 1);
    }

    #[tokio::test]
    async fn a_steady_reader_is_never_cut_off() {
        let slots = Arc::new(Semaphore::new(1));
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut conn = Guarded::new(
            ours,
            slots.try_acquire_owned().unwrap(),
            Duration::from_secs(1),
        );
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                match theirs.read(&mut buf).await {
                    Ok(0) | Err(_) => return got.len(),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        // 4 KiB through a 64-byte pipe at one read per 50 ms takes over 3 s: longer
        // than the timeout, but never a second without progress.
        conn.write_all(&[1u8; 4096]).await.unwrap();
        conn.shutdown().await.unwrap();
        drop(conn);
        assert_eq!(reader.await.unwrap(), 4096);
    }
}
