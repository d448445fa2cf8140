//! A webhook receiver inside the test: records every request and answers `500` to the
//! first `fail_first` of them, `200` afterwards.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Inner {
    seen: Mutex<Vec<Received>>,
    fail_first: AtomicUsize,
    count: AtomicUsize,
    /// How long to wait before answering, in milliseconds.
    delay_ms: AtomicUsize,
}

pub struct Receiver {
    pub base: String,
    inner: Arc<Inner>,
}

async fn hook(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    inner.seen.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        headers,
        body,
    });
    let n = inner.count.fetch_add(1, Ordering::SeqCst);
    let delay = inner.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    if n < inner.fail_first.load(Ordering::SeqCst) {
        (StatusCode::INTERNAL_SERVER_ERROR, "receiver is down")
    } else {
        (StatusCode::OK, "thanks")
    }
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let inner = Arc::new(Inner::default());
        inner.fail_first.store(fail_first, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/{*path}", post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            base: format!("http://{addr}"),
            inner,
        }
    }

    /// A receiver that takes `delay` to answer each request.
    pub async fn slow(delay: Duration) -> Receiver {
        let r = Receiver::start(0).await;
        r.inner
            .delay_ms
            .store(delay.as_millis() as usize, Ordering::SeqCst);
        r
    }

    /// Everything received so far.
    pub fn seen(&self) -> Vec<Received> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until `done` holds for what was received.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..300 {
            let seen = self.seen();
            if done(&seen) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = self.seen();
        let bodies: Vec<String> = seen
            .iter()
            .map(|r| format!("{} {}", r.path, String::from_utf8_lossy(&r.body)))
            .collect();
        panic!("receiver never saw {what}; got {bodies:#?}");
    }
}
