//! `/api/v2.0/labels` and adding labels to artifacts
//! (`…/artifacts/{reference}/labels[/{label_id}]`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use portcullis_core::Registry;
use portcullis_core::labels::{GLOBAL, LabelRequest};
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::artifacts::label_json;
use super::repositories::repo_path;
use super::{Acting, Paging, json_body};
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Router<Arc<Registry>> {
    Router::new()
        .route("/api/v2.0/labels", get(list).post(create))
        .route(
            "/api/v2.0/labels/{label_id}",
            get(get_one).put(update).delete(remove),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/labels",
            post(add_to_artifact),
        )
        .route(
            "/api/v2.0/projects/{project_name_or_id}/repositories/{repository_name}/artifacts/{reference}/labels/{label_id}",
            delete(remove_from_artifact),
        )
}

/// Harbor's `Label` body; on update, absent fields keep nothing but the name.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LabelBody {
    id: Option<i64>,
    name: String,
    description: String,
    color: String,
    scope: String,
    project_id: Option<i64>,
}

fn label_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the label id must be an integer"))
}

pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&params)?;
    let scope = params
        .get("scope")
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(GLOBAL);
    let project_id =
        match params.get("project_id").filter(|v| !v.is_empty()) {
            Some(v) => Some(v.parse::<i64>().map_err(|_| {
                ApiError::new(ErrorCode::BadRequest, "project_id must be an integer")
            })?),
            None => None,
        };
    let name = params.get("name").map(String::as_str);
    let (labels, total) = reg
        .labels
        .list_labels(&ctx, scope, project_id, name, paging.page, paging.page_size)
        .await?;
    let body: Vec<_> = labels.iter().map(label_json).collect();
    let mut resp = Json(body).into_response();
    let mut extra = format!("scope={scope}");
    if let Some(id) = project_id {
        extra.push_str(&format!("&project_id={id}"));
    }
    paging.headers(&mut resp, "/api/v2.0/labels", &extra, total);
    Ok(resp)
}

pub async fn create(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    body: Result<HarborJson<LabelBody>, ApiError>,
) -> ApiResult<Response> {
    let b = json_body(body)?;
    let l = reg
        .labels
        .create_label(
            &ctx,
            LabelRequest {
                name: b.name,
                description: b.description,
                color: b.color,
                scope: if b.scope.is_empty() {
                    GLOBAL.into()
                } else {
                    b.scope
                },
                project_id: b.project_id,
            },
        )
        .await?;
    let mut resp = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v2.0/labels/{}", l.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let l = reg.labels.get_label(&ctx, label_id(&id)?).await?;
    Ok(Json(label_json(&l)).into_response())
}

pub async fn update(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
    body: Result<HarborJson<LabelBody>, ApiError>,
) -> ApiResult<Response> {
    let b = json_body(body)?;
    reg.labels
        .update_label(
            &ctx,
            label_id(&id)?,
            LabelRequest {
                name: b.name,
                description: b.description,
                color: b.color,
                ..Default::default()
            },
        )
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn remove(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    reg.labels.delete_label(&ctx, label_id(&id)?).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn add_to_artifact(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference)): Path<(String, String, String)>,
    body: Result<HarborJson<LabelBody>, ApiError>,
) -> ApiResult<Response> {
    let b = json_body(body)?;
    let id =
        b.id.filter(|id| *id > 0)
            .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "the label id is required"))?;
    reg.labels
        .add_artifact_label(&ctx, &project, &repo_path(&repo)?, &reference, id)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn remove_from_artifact(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo, reference, id)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    reg.labels
        .remove_artifact_label(
            &ctx,
            &project,
            &repo_path(&repo)?,
            &reference,
            label_id(&id)?,
        )
        .await?;
    Ok(StatusCode::OK.into_response())
}
