//! `/projects/{p}/metadatas…` (one key at a time), `/projects/{p}/_deletable` and
//! `/statistics`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portcullis_core::Registry;
use portcullis_types::ErrorCode;

use super::{Acting, HarborJson, is_name, json_body};
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route(
            "/api/v2.0/projects/{project_name_or_id}/metadatas",
            get(list_metadata).post(add_metadata),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/metadatas/{meta_name}",
            get(get_metadata)
                .put(update_metadata)
                .delete(delete_metadata),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/_deletable",
            get(deletable),
        )
        .route("/api/v2.0/statistics", get(statistics))
}

type Metadata = BTreeMap<String, String>;

async fn project(
    reg: &Registry,
    ctx: &portcullis_core::RequestCtx,
    headers: &HeaderMap,
    id: &str,
) -> ApiResult<portcullis_meta::Project> {
    Ok(reg
        .access
        .find_project(&ctx.principal, id, is_name(headers))
        .await?)
}

pub async fn list_metadata(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let p = project(&reg, &ctx, &headers, &id).await?;
    Ok(Json(reg.projects.project_metadata(&ctx, &p, None).await?).into_response())
}

pub async fn add_metadata(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<HarborJson<Metadata>, ApiError>,
) -> ApiResult<Response> {
    let changes = json_body(body)?;
    let p = project(&reg, &ctx, &headers, &id).await?;
    reg.projects
        .set_project_metadata(&ctx, &p, &changes, "create")
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn get_metadata(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let p = project(&reg, &ctx, &headers, &id).await?;
    Ok(Json(reg.projects.project_metadata(&ctx, &p, Some(&name)).await?).into_response())
}

pub async fn update_metadata(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    body: Result<HarborJson<Metadata>, ApiError>,
) -> ApiResult<Response> {
    let changes = json_body(body)?;
    // The body names the key of the path, and only it (as Harbor checks).
    if changes.len() != 1 || !changes.contains_key(&name) {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("the body must hold exactly the metadata {name:?}"),
        ));
    }
    let p = project(&reg, &ctx, &headers, &id).await?;
    reg.projects
        .set_project_metadata(&ctx, &p, &changes, "update")
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn delete_metadata(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let p = project(&reg, &ctx, &headers, &id).await?;
    reg.projects
        .remove_project_metadata(&ctx, &p, &name)
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// Whether the project may be deleted now: only when it holds no repository (the
/// same rule the delete applies), with Harbor's message otherwise.
pub async fn deletable(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let p = project(&reg, &ctx, &headers, &id).await?;
    if !reg
        .access
        .access_to(&ctx.principal, &p)
        .await?
        .can("project", "delete")
    {
        return Err(portcullis_core::access::forbidden(&ctx.principal).into());
    }
    let body = if p.repo_count == 0 {
        serde_json::json!({ "deletable": true })
    } else {
        serde_json::json!({
            "deletable": false,
            "message": "the project contains repositories, can not be deleted",
        })
    };
    Ok(Json(body).into_response())
}

pub async fn statistics(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
) -> ApiResult<Response> {
    Ok(Json(reg.projects.statistics(&ctx).await?).into_response())
}
