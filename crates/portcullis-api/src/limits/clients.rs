//! Requests in flight per client address. A request counts from its arrival until its
//! response body is done or dropped, so a client that opens hundreds of downloads and
//! never reads them uses up its own share, not everyone's.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use parking_lot::Mutex;

/// Counts of requests in flight, per client address.
pub struct InFlight {
    limit: usize,
    counts: Mutex<HashMap<String, usize>>,
}

/// One request's place in its client's count, given back when dropped.
pub struct Slot {
    owner: Arc<InFlight>,
    client: String,
}

impl InFlight {
    /// At most `limit` requests in flight per client; 0 means no limit.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(InFlight {
            limit,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more request of `client`, or `None` when it has `limit` already.
    pub fn enter(self: &Arc<Self>, client: &str) -> Option<Slot> {
        if self.limit == 0 {
            return Some(Slot {
                owner: self.clone(),
                client: String::new(),
            });
        }
        let mut counts = self.counts.lock();
        let n = counts.entry(client.to_string()).or_default();
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(Slot {
            owner: self.clone(),
            client: client.to_string(),
        })
    }

    /// Requests in flight of `client` now.
    pub fn of(&self, client: &str) -> usize {
        self.counts.lock().get(client).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.owner.limit == 0 {
            return;
        }
        let mut counts = self.owner.counts.lock();
        if let Some(n) = counts.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// A response body that holds its request's slot until it is finished or dropped.
pub fn holding(body: Body, slot: Slot) -> Body {
    Body::new(Held {
        inner: body,
        slot: Some(slot),
    })
}

struct Held {
    inner: Body,
    slot: Option<Slot>,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.slot = None;
        }
        frame
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

    #[test]
    fn a_client_gets_its_limit_and_others_are_untouched() {
        let f = InFlight::new(2);
        let a1 = f.enter("10.0.0.1").unwrap();
        let _a2 = f.enter("10.0.0.1").unwrap();
        assert!(f.enter("10.0.0.1").is_none());
        assert!(f.enter("10.0.0.2").is_some());
        drop(a1);
        assert_eq!(f.of("10.0.0.1"), 1);
        assert!(f.enter("10.0.0.1").is_some());
        let unlimited = InFlight::new(0);
        let held: Vec<_> = (0..1000).map(|_| unlimited.enter("x").unwrap()).collect();
        assert_eq!(held.len(), 1000);
    }

    #[tokio::test]
    async fn the_slot_is_held_until_the_body_is_done() {
        use http_body_util::BodyExt;
        let f = InFlight::new(1);
        let slot = f.enter("c").unwrap();
        let mut body = holding(Body::from("abc"), slot);
        assert_eq!(f.of("c"), 1);
        while body.frame().await.is_some() {}
        assert_eq!(f.of("c"), 0);
        let unread = holding(Body::from("abc"), f.enter("c").unwrap());
        assert!(f.enter("c").is_none());
        drop(unread);
        assert_eq!(f.of("c"), 0);
    }
}
