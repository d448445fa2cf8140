//! `/api/v2.0/repositories`, `/api/v2.0/projects/{p}/repositories[/{r}]` and the
//! project summary. Repository names in paths are URL-encoded twice by Harbor clients
//! (`a%252Fb` for `a/b`): the router decodes once, [`repo_path`] once more.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use portcullis_core::Registry;
use portcullis_meta::Repository;
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::{Acting, Paging, harbor_time, is_name, json_body};
use crate::error::{ApiError, ApiResult};

/// The repository path as the router left it, decoded once more.
pub fn repo_path(raw: &str) -> ApiResult<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "invalid repository name encoding"))
}

/// `a/b` as a path segment the way Harbor clients write it (`a%252Fb`).
pub fn encode_twice(path: &str) -> String {
    let once = utf8_percent_encode(path, NON_ALPHANUMERIC).to_string();
    utf8_percent_encode(&once, NON_ALPHANUMERIC).to_string()
}

/// Harbor's repository JSON.
pub fn repository_json(r: &Repository) -> serde_json::Value {
    serde_json::json!({
        "id": r.id.0,
        "project_id": r.project_id.0,
        "name": r.name,
        "description": r.description,
        "artifact_count": r.artifact_count,
        "pull_count": r.pull_count,
        "creation_time": harbor_time(r.creation_time),
        "update_time": harbor_time(r.update_time),
    })
}

/// The name filter of Harbor's `q` for repositories: `name=~x` or `name=x`.
fn name_filter(params: &HashMap<String, String>) -> ApiResult<Option<String>> {
    let Some(q) = params.get("q").filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    let mut name = None;
    for part in q.split(',').filter(|s| !s.trim().is_empty()) {
        match part.split_once('=') {
            Some(("name", v)) => name = Some(v.trim_start_matches('~').to_string()),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("unsupported query {part:?}: only name is supported"),
                ));
            }
        }
    }
    Ok(name)
}

fn listing(
    list: &[Repository],
    total: u64,
    paging: Paging,
    path: &str,
    params: &HashMap<String, String>,
) -> Response {
    let body: Vec<_> = list.iter().map(repository_json).collect();
    let mut resp = Json(body).into_response();
    paging.headers(
        &mut resp,
        path,
        &super::kept_query(params, &["q", "sort"]),
        total,
    );
    resp
}

fn paging(params: &HashMap<String, String>) -> ApiResult<Paging> {
    Paging::from_params(params)
}

pub async fn list_all(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = paging(&params)?;
    let name = name_filter(&params)?;
    let (list, total) = reg
        .list_all_repositories(&ctx, name.as_deref(), paging.page, paging.page_size)
        .await?;
    Ok(listing(
        &list,
        total,
        paging,
        "/api/v2.0/repositories",
        &params,
    ))
}

pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path(project): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = paging(&params)?;
    let name = name_filter(&params)?;
    let (list, total) = reg
        .list_project_repositories(
            &ctx,
            &project,
            name.as_deref(),
            paging.page,
            paging.page_size,
        )
        .await?;
    let path = format!("/api/v2.0/projects/{project}/repositories");
    Ok(listing(&list, total, paging, &path, &params))
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, _, r) = reg
        .access
        .repository_for(
            &ctx.principal,
            &project,
            &repo_path(&repo)?,
            "repository",
            "read",
        )
        .await?;
    Ok(Json(repository_json(&r)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RepositoryReq {
    #[serde(default)]
    description: Option<String>,
}

pub async fn update(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo)): Path<(String, String)>,
    body: Result<HarborJson<RepositoryReq>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    reg.describe_repository(
        &ctx,
        &project,
        &repo_path(&repo)?,
        req.description.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn delete(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Path((project, repo)): Path<(String, String)>,
) -> ApiResult<Response> {
    reg.delete_repository(&ctx, &project, &repo_path(&repo)?)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn summary(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
) -> ApiResult<Response> {
    let s = reg
        .project_summary(&ctx, &project, is_name(&headers))
        .await?;
    Ok(Json(s).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_encoding_round_trips() {
        let encoded = encode_twice("a/b");
        assert_eq!(encoded, "a%252Fb");
        // The router decodes once; the handler once more.
        let once = percent_encoding::percent_decode_str(&encoded)
            .decode_utf8()
            .unwrap();
        assert_eq!(repo_path(&once).unwrap(), "a/b");
        assert_eq!(repo_path("plain").unwrap(), "plain");
    }
}
