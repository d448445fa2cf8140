//! `GET /metrics`: Prometheus text of the event bus and webhook delivery (so that a
//! backlog or dropped events show up on a dashboard before anyone misses a webhook), the
//! job queue and scanning.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portcullis_core::Registry;
use portcullis_core::webhooks::COUNTERS;

pub fn routes() -> Router<Arc<Registry>> {
    Router::new().route("/metrics", get(metrics))
}

/// Whether the request presents the configured metrics token (constant-time compare).
fn authorized(reg: &Registry, headers: &axum::http::HeaderMap) -> bool {
    let Some(expected) = &reg.settings.metrics_token else {
        return true;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), expected.as_bytes()).into()
}

async fn metrics(State(reg): State<Arc<Registry>>, headers: axum::http::HeaderMap) -> Response {
    if !authorized(&reg, &headers) {
        return crate::error::ApiError::new(
            portcullis_types::ErrorCode::Unauthorized,
            "a bearer token is required for /metrics",
        )
        .challenge("Bearer realm=\"metrics\"".into())
        .into_response();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP portcullis_events_emitted_total Events handed to subscribers.\n\
         # TYPE portcullis_events_emitted_total counter\n\
         portcullis_events_emitted_total {}",
        reg.events.emitted()
    );
    let stats = reg.events.stats();
    for (name, help, kind) in [
        ("backlog", "Events waiting for a subscriber.", "gauge"),
        (
            "capacity",
            "Events a subscriber's queue holds at most.",
            "gauge",
        ),
        (
            "dropped_total",
            "Events dropped because a subscriber's queue was full.",
            "counter",
        ),
    ] {
        let _ = writeln!(out, "# HELP portcullis_events_{name} {help}");
        let _ = writeln!(out, "# TYPE portcullis_events_{name} {kind}");
        for s in &stats {
            let v = match name {
                "backlog" => s.backlog,
                "capacity" => s.capacity,
                _ => s.dropped,
            };
            let _ = writeln!(
                out,
                "portcullis_events_{name}{{subscriber=\"{}\"}} {v}",
                s.name
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP portcullis_webhook_attempts_total Webhook delivery attempts by result.\n\
         # TYPE portcullis_webhook_attempts_total counter\n\
         portcullis_webhook_attempts_total{{result=\"success\"}} {}\n\
         portcullis_webhook_attempts_total{{result=\"failure\"}} {}",
        COUNTERS.succeeded.load(Ordering::Relaxed),
        COUNTERS.failed.load(Ordering::Relaxed)
    );
    // Job queue depth per kind and state, scan durations and outcomes.
    match portcullis_core::metrics::render(&reg.meta).await {
        Ok(jobs) => out.push_str(&jobs),
        Err(e) => tracing::warn!(error = %e, "job metrics unavailable"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
