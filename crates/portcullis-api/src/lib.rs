//! HTTP routers: `/v2/` (OCI distribution), `/service/token` (Docker token flow) and
//! `/api/v2.0/` (Harbor-compatible). Handlers are thin: extract, call a service, shape
//! the answer.

pub mod adapter;
mod admission;
pub mod auth;
pub mod error;
pub mod harbor;
pub mod limits;
pub mod metrics;
pub mod token;
pub mod v2;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use portcullis_core::Registry;
use portcullis_types::ErrorCode;

use crate::error::ApiError;

/// The whole application with the default HTTP limits; tests call it without a socket.
pub fn app(reg: Arc<Registry>) -> Router {
    let limits = limits::HttpLimits {
        trust_proxy_headers: reg.settings.trust_proxy_headers,
        ..Default::default()
    };
    app_with_limits(reg, limits)
}

/// The whole application.
pub fn app_with_limits(reg: Arc<Registry>, http: limits::HttpLimits) -> Router {
    let routes = Router::new()
        .route("/v2", any(v2::dispatch))
        .route("/v2/", any(v2::dispatch))
        .route("/v2/{*rest}", any(v2::dispatch))
        .route("/service/token", get(token::token))
        .merge(harbor::router())
        .merge(admission::routes())
        .merge(metrics::routes())
        .merge(adapter::routes())
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "not found") })
        // Blob bodies are streamed, never buffered; buffering extractors (JSON bodies of
        // the Harbor API) keep a modest limit.
        .layer(DefaultBodyLimit::max(8 * 1024 * 1024))
        .layer(axum::middleware::map_request(host_from_authority))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            limits::panic_response,
        ))
        .layer(limits::LimitsLayer::new(http))
        .layer(RequestIdLayer)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(reg);
    // Outside the router, so that the rewritten path is the one routed.
    Router::new().fallback_service(tower::ServiceExt::map_request(
        routes,
        harbor_trailing_slash,
    ))
}

/// Every request has an id (the client's `X-Request-Id`, else a fresh one), returned in
/// `X-Request-Id` as Harbor does and named by the events the request causes (CloudEvents
/// `requestid`).
#[derive(Clone, Copy)]
struct RequestIdLayer;

impl<S> tower::Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> RequestId<S> {
        RequestId { inner }
    }
}

#[derive(Clone)]
struct RequestId<S> {
    inner: S,
}

impl<S> tower::Service<axum::extract::Request> for RequestId<S>
where
    S: tower::Service<axum::extract::Request, Response = axum::response::Response>,
    S::Future: Send + 'static,
{
    type Response = axum::response::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| portcullis_core::request_id::accept(v.to_str().ok()))
            .unwrap_or_else(portcullis_core::request_id::fresh);
        let header = axum::http::HeaderValue::from_str(&id).ok();
        let served = portcullis_core::request_id::scope(id, self.inner.call(req));
        Box::pin(async move {
            let mut resp = served.await?;
            if let Some(h) = header {
                resp.headers_mut().insert("x-request-id", h);
            }
            Ok(resp)
        })
    }
}

/// HTTP/2 carries the host in the `:authority` pseudo-header, not in `Host`; URLs built
/// for the client (token realm, links) read `Host`, so fill it in from the authority.
async fn host_from_authority(mut req: axum::extract::Request) -> axum::extract::Request {
    if !req.headers().contains_key(axum::http::header::HOST)
        && let Some(value) = req
            .uri()
            .authority()
            .and_then(|a| axum::http::HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(axum::http::header::HOST, value);
    }
    req
}

/// Harbor's router takes `/api/v2.0/quotas/` as `/api/v2.0/quotas` (its swagger even
/// spells some paths with the slash, such as `…/metadatas/`), and clients rely on it.
fn harbor_trailing_slash(mut req: axum::extract::Request) -> axum::extract::Request {
    let path = req.uri().path();
    if path.starts_with("/api/") && path.len() > "/api/v2.0/".len() && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(pq) = rebuilt.parse::<axum::http::uri::PathAndQuery>() {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}
