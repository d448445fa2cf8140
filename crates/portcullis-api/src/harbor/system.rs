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

/// `GET /api/v2.0/systeminfo`. Like Harbor, anonymous callers learn only how to sign in
/// (auth mode, self-registration, banner); versions, URLs, storage and database
/// backends are for signed-in callers.
pub async fn systeminfo(
    State(reg): State<Arc<Registry>>,
    super::Caller(p): super::Caller,
    headers: HeaderMap,
) -> Response {
    let mut info = serde_json::json!({
        "auth_mode": "db_auth",
        "primary_auth_mode": false,
        "self_registration": reg.settings.self_registration,
        "banner_message": "",
    });
    if p.is_anonymous() {
        return axum::Json(info).into_response();
    }
    let external = base_url(&reg, &headers);
    let registry_url = external
        .split("://")
        .nth(1)
        .unwrap_or(&external)
        .to_string();
    let vulndb = reg.scanning.vulndb_status().map(|s| {
        serde_json::json!({
            "generation": s.generation,
            "updated_at": super::harbor_time(s.updated_at),
        })
    });
    let protected = serde_json::json!({
        "vulnerability_database": vulndb,
        // Any signed-in user may create projects (robots and anonymous callers may not).
        "project_creation_restriction": "everyone",
        "has_ca_root": false,
        "harbor_version": concat!("v2.16.0-portcullis-", env!("CARGO_PKG_VERSION")),
        "portcullis_version": env!("CARGO_PKG_VERSION"),
        "current_time": super::harbor_time(time::OffsetDateTime::now_utc()),
        "registry_url": registry_url,
        "external_url": external,
        "registry_storage_provider_name": reg.settings.storage_name,
        "database_backend": reg.meta.backend_name(),
        "read_only": false,
        "with_chartmuseum": false,
        "notification_enable": true,
        "max_manifest_size": reg.settings.max_manifest_size,
    });
    if let (Some(info), serde_json::Value::Object(more)) = (info.as_object_mut(), protected) {
        info.extend(more);
    }
    axum::Json(info).into_response()
}

/// `GET /api/v2.0/jobservice/queues` (system admins): Harbor's job queues, one per job
/// kind of the durable runner that has pending jobs: how many wait and how long the
/// oldest has waited, in seconds. Queues are never paused here.
pub async fn job_queues(
    State(reg): State<Arc<Registry>>,
    super::Caller(p): super::Caller,
) -> crate::error::ApiResult<Response> {
    if !p.is_sysadmin() {
        return Err(portcullis_core::access::forbidden(&p).into());
    }
    let now = time::OffsetDateTime::now_utc();
    let queues: Vec<_> = reg
        .meta
        .jobs()
        .pending_queues()
        .await
        .map_err(portcullis_core::Error::from)?
        .into_iter()
        .map(|(kind, count, oldest)| {
            serde_json::json!({
                "job_type": kind,
                "count": count,
                "latency": (now - oldest).whole_seconds().max(0),
                "paused": false,
            })
        })
        .collect();
    Ok(axum::Json(queues).into_response())
}

/// `GET /systeminfo/volumes`: total and free bytes of the file system holding the blob
/// store (system admins only, as Harbor); an S3 store has no volume to report.
pub async fn volumes(
    State(reg): State<Arc<Registry>>,
    super::Acting(ctx): super::Acting,
) -> crate::error::ApiResult<Response> {
    if !ctx.principal.is_sysadmin() {
        return Err(portcullis_core::access::forbidden(&ctx.principal).into());
    }
    let storage = match reg.blobs.local_root() {
        Some(root) => {
            let root = root.to_path_buf();
            let st = tokio::task::spawn_blocking(move || rustix::fs::statvfs(&root))
                .await
                .map_err(portcullis_core::Error::internal)?
                .map_err(portcullis_core::Error::internal)?;
            vec![serde_json::json!({
                "total": st.f_blocks.saturating_mul(st.f_frsize),
                "free": st.f_bavail.saturating_mul(st.f_frsize),
            })]
        }
        None => Vec::new(),
    };
    Ok(axum::Json(serde_json::json!({ "storage": storage })).into_response())
}

#[derive(serde::Deserialize)]
pub struct ActionRequest {
    action: String,
}

/// `PUT /jobservice/jobs/{job_id}` (`{"action":"stop"}`): stops a job.
pub async fn stop_job(
    State(reg): State<Arc<Registry>>,
    super::Acting(ctx): super::Acting,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> crate::error::ApiResult<Response> {
    portcullis_core::jobservice::stop_job(&reg.meta, &ctx, &id).await?;
    Ok(axum::http::StatusCode::OK.into_response())
}

/// `GET /jobservice/jobs/{job_id}/log`.
pub async fn job_log(
    State(reg): State<Arc<Registry>>,
    super::Acting(ctx): super::Acting,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> crate::error::ApiResult<Response> {
    let log = portcullis_core::jobservice::job_log(&reg.meta, &ctx, &id).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        log,
    )
        .into_response())
}

/// `PUT /jobservice/queues/{job_type}`: `stop` stops its pending jobs (`all` for every
/// kind); pause and resume are not provided (501).
pub async fn queue_action(
    State(reg): State<Arc<Registry>>,
    super::Acting(ctx): super::Acting,
    axum::extract::Path(kind): axum::extract::Path<String>,
    body: Result<super::HarborJson<ActionRequest>, crate::error::ApiError>,
) -> crate::error::ApiResult<Response> {
    let req = super::json_body(body)?;
    portcullis_core::jobservice::queue_action(&reg.meta, &ctx, &kind, &req.action).await?;
    Ok(axum::http::StatusCode::OK.into_response())
}
