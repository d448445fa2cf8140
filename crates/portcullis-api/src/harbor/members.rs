//! `/api/v2.0/projects/{p}/members`: project membership with Harbor's roles.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::Registry;
use portcullis_core::rbac::Role;
use portcullis_meta::Member;
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::{Acting, is_name, json_body};
use crate::error::{ApiError, ApiResult};

fn member_json(m: &Member) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "project_id": m.project_id.0,
        "entity_name": m.username,
        "entity_id": m.user_id.0,
        "entity_type": "u",
        "role_id": m.role_id,
        "role_name": Role::from_id(m.role_id).map(Role::name).unwrap_or_default(),
    })
}

fn member_id(s: &str) -> ApiResult<i64> {
    s.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the member id must be an integer"))
}

pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let (_, members) = reg
        .accounts
        .list_members(
            &ctx,
            &project,
            is_name(&headers),
            params.get("entityname").map(String::as_str),
        )
        .await?;
    // A project's members are few: paged here, after the one query.
    let paging = super::Paging::from_params(&params)?;
    let total = members.len() as u64;
    let page: Vec<_> = paging.window(&members).map(member_json).collect();
    let mut resp = Json(page).into_response();
    let path = format!("/api/v2.0/projects/{project}/members");
    let extra = super::kept_query(&params, &["entityname"]);
    paging.headers(&mut resp, &path, &extra, total);
    Ok(resp)
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, mid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let m = reg
        .accounts
        .get_member(&ctx, &project, is_name(&headers), member_id(&mid)?)
        .await?;
    Ok(Json(member_json(&m)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct MemberUser {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    user_id: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct MemberReq {
    role_id: i32,
    #[serde(default)]
    member_user: Option<MemberUser>,
}

pub async fn add(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(project): Path<String>,
    body: Result<HarborJson<MemberReq>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    let user = req.member_user.ok_or_else(|| {
        ApiError::new(
            ErrorCode::BadRequest,
            "member_user is required (groups are not supported)",
        )
    })?;
    let username = match (user.username, user.user_id) {
        (Some(name), _) if !name.is_empty() => name,
        (_, Some(id)) => reg.accounts.get_user_name(id).await?,
        _ => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "member_user needs a username or user_id",
            ));
        }
    };
    let m = reg
        .accounts
        .add_member(&ctx, &project, is_name(&headers), &username, req.role_id)
        .await?;
    let mut resp = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "/api/v2.0/projects/{}/members/{}",
        m.project_id.0, m.id
    )) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
pub struct RoleReq {
    role_id: i32,
}

pub async fn update(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, mid)): Path<(String, String)>,
    body: Result<HarborJson<RoleReq>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    reg.accounts
        .update_member(
            &ctx,
            &project,
            is_name(&headers),
            member_id(&mid)?,
            req.role_id,
        )
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn remove(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path((project, mid)): Path<(String, String)>,
) -> ApiResult<Response> {
    reg.accounts
        .remove_member(&ctx, &project, is_name(&headers), member_id(&mid)?)
        .await?;
    Ok(StatusCode::OK.into_response())
}
