//! `ping`, `health` and `systeminfo`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_core::Registry;

use crate::auth::base_url;

pub async fn ping() -> &'static str {
    "Pong"
}

pub async fn health(State(reg): State<Arc<Registry>>) -> Response {
    let db = reg.meta.health().await.err().map(|e| e.to_string());
    let storage = reg.blobs.health().await.err().map(|e| e.to_string());
    let component = |name: &str, err: &Option<String>| match err {
        None => serde_json::json!({ "name": name, "status": "healthy" }),
        Some(e) => serde_json::json!({ "name": name, "status": "unhealthy", "error": e }),
    };
    let healthy = db.is_none() && storage.is_none();
    let body = serde_json::json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "components": [
            component("core", &None),
            component("database", &db),
            component("registry", &storage),
            component("jobservice", &None),
        ],
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

pub async fn systeminfo(State(reg): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    let external = base_url(&reg, &headers);
    let registry_url = external
        .split("://")
        .nth(1)
        .unwrap_or(&external)
        .to_string();
    let vulndb = reg.scanning().and_then(|s| s.vulndb_status()).map(|s| {
        serde_json::json!({
            "generation": s.generation,
            "updated_at": super::harbor_time(s.updated_at),
        })
    });
    axum::Json(serde_json::json!({
        "vulnerability_database": vulndb,
        "auth_mode": "db_auth",
        "primary_auth_mode": false,
        // Any signed-in user may create projects (robots and anonymous callers may not).
        "project_creation_restriction": "everyone",
        "self_registration": reg.settings.self_registration,
        "has_ca_root": false,
        "harbor_version": concat!("v2.16.0-portcullis-", env!("CARGO_PKG_VERSION")),
        "portcullis_version": env!("CARGO_PKG_VERSION"),
        "registry_url": registry_url,
        "external_url": external,
        "registry_storage_provider_name": reg.settings.storage_name,
        "database_backend": reg.meta.backend_name(),
        "read_only": false,
        "with_chartmuseum": false,
        "notification_enable": true,
        "banner_message": "",
        "max_manifest_size": reg.settings.max_manifest_size,
    }))
    .into_response()
}
