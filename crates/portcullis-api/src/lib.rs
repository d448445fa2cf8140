//! HTTP routers: `/v2/` (OCI distribution), `/service/token` (Docker token flow) and
//! `/api/v2.0/` (Harbor-compatible). Handlers are thin: extract, call a service, shape
//! the answer.

pub mod auth;
pub mod error;
pub mod harbor;
pub mod token;
pub mod v2;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use portcullis_core::Registry;
use portcullis_types::ErrorCode;

use crate::error::ApiError;

/// The whole application; tests call it without a socket.
pub fn app(reg: Arc<Registry>) -> Router {
    Router::new()
        .route("/v2", any(v2::dispatch))
        .route("/v2/", any(v2::dispatch))
        .route("/v2/{*rest}", any(v2::dispatch))
        .route("/service/token", get(token::token))
        .merge(harbor::router())
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "not found") })
        // Blob bodies are streamed, never buffered; buffering extractors (JSON bodies of
        // the Harbor API) keep a modest limit.
        .layer(DefaultBodyLimit::max(8 * 1024 * 1024))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(reg)
}
