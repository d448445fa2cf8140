//! What keeps one client from starving the others at the HTTP layer: requests in flight
//! per client address, a deadline on request bodies that stop arriving, and a handler
//! panic answered as a 500 instead of a dropped connection. Connection-level limits
//! (how many, header and send deadlines) are the listener's: see `portcullis serve`.

mod body;
mod clients;
mod stall;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use portcullis_types::ErrorCode;

pub use body::BodyStalled;
pub use clients::InFlight;
pub use stall::Stall;

use crate::error::ApiError;

/// HTTP limits of the application.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Requests one client address may have in flight (0: no limit).
    pub requests_per_client: usize,
    /// A request body that sends nothing for this long fails.
    pub body_timeout: Duration,
    /// Take the client address from proxy headers (as the login limits do).
    pub trust_proxy_headers: bool,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            requests_per_client: 256,
            body_timeout: Duration::from_secs(60),
            trust_proxy_headers: false,
        }
    }
}

/// The tower layer applying [`HttpLimits`].
#[derive(Clone)]
pub struct LimitsLayer {
    limits: Arc<HttpLimits>,
    in_flight: Arc<InFlight>,
}

impl LimitsLayer {
    pub fn new(limits: HttpLimits) -> Self {
        LimitsLayer {
            in_flight: InFlight::new(limits.requests_per_client),
            limits: Arc::new(limits),
        }
    }
}

impl<S> tower::Layer<S> for LimitsLayer {
    type Service = Limited<S>;

    fn layer(&self, inner: S) -> Limited<S> {
        Limited {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Limited<S> {
    inner: S,
    layer: LimitsLayer,
}

impl<S> tower::Service<Request> for Limited<S>
where
    S: tower::Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let peer = req.extensions().get::<ConnectInfo<std::net::SocketAddr>>();
        let client = crate::auth::client_ip(
            req.headers(),
            peer.map(|c| c.0),
            self.layer.limits.trust_proxy_headers,
        );
        let Some(slot) = self.layer.in_flight.enter(&client) else {
            tracing::warn!(client, "too many requests in flight");
            let refused = ApiError::new(
                ErrorCode::TooManyRequests,
                "too many requests in flight from this address; retry later",
            )
            .header(axum::http::header::RETRY_AFTER, "1".into())
            .into_response();
            return Box::pin(async move { Ok(refused) });
        };
        let timeout = self.layer.limits.body_timeout;
        let req = req.map(|b| body::with_timeout(b, timeout));
        let served = self.inner.call(req);
        Box::pin(async move {
            let resp = served.await?;
            Ok(resp.map(|b| clients::holding(b, slot)))
        })
    }
}

/// A panicking handler's answer: a 500 in the OCI/Harbor error format, logged with the
/// request's id, while the connection and every other request go on.
pub fn panic_response(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    let request_id = portcullis_core::request_id::current().unwrap_or_default();
    tracing::error!(request_id, panic = what, "handler panicked");
    ApiError::new(
        ErrorCode::Internal,
        format!("internal error (request id {request_id})"),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("bad input reached a bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_the_error_format() {
        let app = axum::Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "ok" }))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ));
        let resp = app
            .clone()
            .oneshot(
                Request::get("/boom")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 500);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errors"][0]["code"], "INTERNAL_SERVER_ERROR");
        let fine = app
            .oneshot(
                Request::get("/fine")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(fine.status(), 200);
    }
}
