//! `/api/v2.0/projects/{p}/trusted-keys`: the cosign keys and notation certificates a
//! project trusts (not in Harbor, which never verifies signatures).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use portcullis_core::Registry;
use portcullis_core::trusted_keys::NewTrustedKey;
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::{Acting, is_name, json_body};
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route(
            "/api/v2.0/projects/{project_name_or_id}/trusted-keys",
            get(list).post(add),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/trusted-keys/{key_id}",
            delete(remove),
        )
}

#[derive(Debug, Deserialize)]
pub struct NewKey {
    name: String,
    kind: String,
    pem: String,
}

pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    let keys = reg
        .policy
        .list_trusted_keys(&ctx, &project, is_name(&headers))
        .await?;
    let total = keys.len();
    let mut resp = Json(keys).into_response();
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    Ok(resp)
}

pub async fn add(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    body: Result<HarborJson<NewKey>, ApiError>,
) -> ApiResult<Response> {
    let b = json_body(body)?;
    let view = reg
        .policy
        .add_trusted_key(
            &ctx,
            &project,
            is_name(&headers),
            &NewTrustedKey {
                name: b.name,
                kind: b.kind,
                pem: b.pem,
            },
        )
        .await?;
    let mut resp = (StatusCode::CREATED, Json(&view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "/api/v2.0/projects/{project}/trusted-keys/{}",
        view.id
    )) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn remove(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = id
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the key id must be an integer"))?;
    reg.policy
        .remove_trusted_key(&ctx, &project, is_name(&headers), id)
        .await?;
    Ok(StatusCode::OK.into_response())
}
