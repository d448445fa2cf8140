//! Harbor features Portcullis does not provide, answered plainly with
//! `501 NOT_IMPLEMENTED` rather than a bare 404, so a client learns why: P2P preheat
//! (Dragonfly and Kraken distribution) is not built; see the README's Compatibility
//! section.

use std::sync::Arc;

use axum::Router;
use axum::routing::any;
use portcullis_core::Registry;
use portcullis_types::ErrorCode;

use crate::error::ApiError;

async fn preheat() -> ApiError {
    ApiError::new(
        ErrorCode::NotImplemented,
        "P2P preheat is not supported by Portcullis",
    )
}

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route("/api/v2.0/p2p/preheat/{*rest}", any(preheat))
        .route(
            "/api/v2.0/projects/{project_name}/preheat/{*rest}",
            any(preheat),
        )
}
