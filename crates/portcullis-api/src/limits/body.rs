//! Request bodies that stop arriving: a client that sends part of an upload and then
//! nothing would otherwise hold its request, its buffers and its upload lock forever.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::stall::Stall;

/// The error a handler's body read sees when the client went quiet.
#[derive(Debug)]
pub struct BodyStalled(Duration);

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the client sent no request data for {:?}", self.0)
    }
}

impl std::error::Error for BodyStalled {}

/// `body`, failing once no data has come for `timeout` while it was being read.
pub fn with_timeout(body: Body, timeout: Duration) -> Body {
    Body::new(Timed {
        inner: body,
        stall: Stall::new(timeout),
        timeout,
    })
}

struct Timed {
    inner: Body,
    stall: Stall,
    timeout: Duration,
}

impl http_body::Body for Timed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.stall.progress();
                Poll::Ready(frame)
            }
            Poll::Pending if this.stall.expired(cx) => {
                Poll::Ready(Some(Err(axum::Error::new(BodyStalled(this.timeout)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_quiet_client_fails_the_read() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
        let inner = Body::new(http_body_util::StreamBody::new(tokio_stream_from(rx)));
        let mut body = with_timeout(inner, Duration::from_millis(100));
        tx.send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        // A pause of the reader's own is not the client's: data waiting is still read.
        tx.send(Ok(Frame::data(Bytes::from_static(b"b"))))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(body.frame().await.unwrap().is_ok());
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(err.to_string(), "the client sent no request data for 100ms");
        drop(tx);
    }

    fn tokio_stream_from<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures::Stream<Item = T> + Send {
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
