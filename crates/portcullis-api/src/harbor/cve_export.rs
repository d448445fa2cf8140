//! `/api/v2.0/export/cve…`: CVE exports of a project's findings, as CSV or JSON.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis_core::Registry;
use portcullis_core::scanning::export::ExportCriteria;

use super::HarborJson;
use super::{Acting, json_body};
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route("/api/v2.0/export/cve", post(create))
        .route("/api/v2.0/export/cve/executions", get(list))
        .route(
            "/api/v2.0/export/cve/execution/{execution_id}",
            get(get_one),
        )
        .route(
            "/api/v2.0/export/cve/download/{execution_id}",
            get(download),
        )
}

pub async fn create(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    body: Result<HarborJson<ExportCriteria>, ApiError>,
) -> ApiResult<Response> {
    let criteria = json_body(body)?;
    let data_type = headers
        .get("x-scan-data-type")
        .and_then(|v| v.to_str().ok());
    let id = reg
        .scanning
        .request_cve_export(&ctx, data_type, criteria)
        .await?;
    Ok(Json(serde_json::json!({ "id": id })).into_response())
}

pub async fn list(State(reg): State<Arc<Registry>>, Acting(ctx): Acting) -> ApiResult<Response> {
    Ok(Json(reg.scanning.cve_export_executions(&ctx).await?).into_response())
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(Json(reg.scanning.cve_export_execution(&ctx, id).await?).into_response())
}

pub async fn download(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    // `?format=` decides; else `Accept: application/json` asks for JSON; else CSV, as
    // Harbor serves it.
    let accepts_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json") && !v.contains("text/csv"));
    let format = params
        .get("format")
        .map(String::as_str)
        .or(accepts_json.then_some("json"));
    let (mime, name, bytes) = reg.scanning.cve_export_download(&ctx, id, format).await?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={name}")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
