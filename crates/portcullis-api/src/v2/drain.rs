//! Request bodies a handler never read. Answering a large PUT (a 4 MB manifest, a
//! blob) with 401 and closing at once resets the connection while the client is still
//! sending, so the client reports "broken pipe" instead of the answer. The body is
//! therefore read and dropped after the response is ready, up to a bound; past it the
//! connection is closed, which is then the right thing to do.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Version, header};
use axum::response::Response;
use futures::StreamExt;
use http_body::{Frame, SizeHint};

/// Most bytes read and dropped after an answer; manifests are capped below this.
const DRAIN_LIMIT: usize = 16 << 20;
/// How long a client may take to send what is left.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Where a body that was dropped unread ends up.
#[derive(Clone, Default)]
pub(crate) struct Leftover(Arc<Mutex<Option<Body>>>);

impl Leftover {
    /// Wraps `body` so that dropping it unread hands it back here.
    pub fn track(&self, body: Body) -> Body {
        Body::new(Tracked {
            inner: Some(body),
            slot: self.clone(),
        })
    }

    fn take(&self) -> Option<Body> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }

    /// Reads what is left of the request body, then returns `resp`; with
    /// `Connection: close` when the rest was too large or too slow to read.
    pub async fn settle(&self, version: Version, resp: Response) -> Response {
        match self.take() {
            Some(body) => drain(body, version, resp).await,
            None => resp,
        }
    }
}

struct Tracked {
    inner: Option<Body>,
    slot: Leftover,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.inner.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map(http_body::Body::size_hint)
            .unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(b) = self.inner.take()
            && !http_body::Body::is_end_stream(&b)
            && let Ok(mut g) = self.slot.0.lock()
        {
            *g = Some(b);
        }
    }
}

async fn drain(body: Body, version: Version, mut resp: Response) -> Response {
    let mut stream = body.into_data_stream();
    let read_all = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen = 0usize;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(b) => {
                    seen += b.len();
                    if seen > DRAIN_LIMIT {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
        true
    })
    .await
    .unwrap_or(false);
    if !read_all && version < Version::HTTP_2 {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn an_unread_body_is_handed_back_and_drained() {
        let slot = Leftover::default();
        let body = slot.track(Body::from(vec![7u8; 1 << 20]));
        drop(body);
        let resp = slot
            .settle(
                Version::HTTP_11,
                axum::http::StatusCode::UNAUTHORIZED.into_response(),
            )
            .await;
        assert!(resp.headers().get(header::CONNECTION).is_none());
        assert!(slot.take().is_none());
    }

    #[tokio::test]
    async fn a_read_body_leaves_nothing_behind() {
        let slot = Leftover::default();
        let body = slot.track(Body::from("abc"));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "abc");
        assert!(slot.take().is_none());
    }

    #[tokio::test]
    async fn too_much_closes_the_connection() {
        let slot = Leftover::default();
        drop(slot.track(Body::from(vec![0u8; DRAIN_LIMIT + 1])));
        let resp = slot
            .settle(
                Version::HTTP_11,
                axum::http::StatusCode::UNAUTHORIZED.into_response(),
            )
            .await;
        assert_eq!(resp.headers()[header::CONNECTION], "close");
    }
}
