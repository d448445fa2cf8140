//! `GET /api/v2.0/search`: projects and repositories the caller may see.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use portcullis_core::Registry;

use super::Acting;
use super::projects::{owner_names, project_json};
use crate::error::ApiResult;

pub async fn search(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let q = params.get("q").map(String::as_str).unwrap_or("");
    let (projects, repos) = reg.search(&ctx, q).await?;
    let owners = owner_names(&reg, &projects).await;
    let projects: Vec<_> = projects
        .iter()
        .map(|x| project_json(x, owners.get(&x.owner_id.0).map(String::as_str), None))
        .collect();
    let repos: Vec<_> = repos
        .iter()
        .map(|f| {
            serde_json::json!({
                "project_id": f.repository.project_id.0,
                "project_name": f.project_name,
                "project_public": f.project_public,
                "repository_name": f.repository.name,
                "pull_count": f.repository.pull_count,
                "artifact_count": f.repository.artifact_count,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "project": projects, "repository": repos })).into_response())
}
