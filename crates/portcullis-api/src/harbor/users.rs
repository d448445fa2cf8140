//! `/api/v2.0/users`: local users, the current user and their permissions.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::users::UserRequest;
use portcullis_core::{Principal, Registry};
use portcullis_meta::User;
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::{Paging, UserActing, harbor_time, json_body};
use crate::error::{ApiError, ApiResult};

/// Harbor's `UserResp`.
pub fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({
        "user_id": u.id.0,
        "username": u.username,
        "email": u.email,
        "realname": u.realname,
        "comment": u.comment,
        "sysadmin_flag": u.sysadmin,
        "admin_role_in_auth": false,
        "creation_time": harbor_time(u.creation_time),
        "update_time": harbor_time(u.update_time),
    })
}

fn paging(params: &HashMap<String, String>) -> ApiResult<Paging> {
    Paging::from_params(params)
}

/// `q=username=~ali` or `q=username=alice`: the needle of a user query.
fn username_filter(params: &HashMap<String, String>) -> Option<String> {
    let q = params.get("q")?;
    q.split(',').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k.trim() == "username").then(|| v.trim_start_matches('~').to_string())
    })
}

pub async fn list(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = paging(&params)?;
    let needle = username_filter(&params);
    let (users, total) = reg
        .accounts
        .list_users(&ctx, needle.as_deref(), paging.page, paging.page_size)
        .await?;
    let mut resp = Json(users.iter().map(user_json).collect::<Vec<_>>()).into_response();
    paging.headers(
        &mut resp,
        "/api/v2.0/users",
        &super::kept_query(&params, &["q", "sort"]),
        total,
    );
    Ok(resp)
}

pub async fn search(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = paging(&params)?;
    let needle = params.get("username").cloned().unwrap_or_default();
    let (users, total) = reg
        .accounts
        .search_users(&ctx, &needle, paging.page, paging.page_size)
        .await?;
    let body: Vec<_> = users
        .iter()
        .map(|u| serde_json::json!({ "user_id": u.id.0, "username": u.username }))
        .collect();
    let mut resp = Json(body).into_response();
    paging.headers(
        &mut resp,
        "/api/v2.0/users/search",
        &super::kept_query(&params, &["username"]),
        total,
    );
    Ok(resp)
}

#[derive(Debug, Deserialize)]
pub struct UserCreationReq {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    realname: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    password: String,
}

/// Creation is open to anonymous callers only when self-registration is on, so the
/// caller is read without requiring a login.
pub struct MaybeCaller(pub portcullis_core::RequestCtx);

impl axum::extract::FromRequestParts<Arc<Registry>> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        reg: &Arc<Registry>,
    ) -> Result<Self, Self::Rejection> {
        let p = if parts.headers.contains_key(header::AUTHORIZATION) {
            super::UserCaller::from_request_parts(parts, reg).await?.0
        } else {
            Principal::Anonymous
        };
        Ok(MaybeCaller(super::request_ctx(parts, reg, p)))
    }
}

pub async fn create(
    State(reg): State<Arc<Registry>>,
    MaybeCaller(ctx): MaybeCaller,
    body: Result<HarborJson<UserCreationReq>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    let u = reg
        .accounts
        .create_user(
            &ctx,
            UserRequest {
                username: req.username,
                email: req.email,
                realname: req.realname,
                comment: req.comment,
                password: req.password,
            },
        )
        .await?;
    let mut resp = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v2.0/users/{}", u.id.0)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

fn current_id(p: &Principal) -> ApiResult<i64> {
    match p {
        Principal::User(u) => Ok(u.id),
        _ => Err(ApiError::new(ErrorCode::HarborUnauthorized, "UnAuthorized")),
    }
}

fn user_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the user id must be an integer"))
}

pub async fn current(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
) -> ApiResult<Response> {
    let u = reg
        .accounts
        .get_user(&ctx, current_id(&ctx.principal)?)
        .await?;
    Ok(Json(user_json(&u)).into_response())
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let u = reg.accounts.get_user(&ctx, user_id(&id)?).await?;
    Ok(Json(user_json(&u)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ProfileReq {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    realname: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

pub async fn update(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Path(id): Path<String>,
    body: Result<HarborJson<ProfileReq>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    let id = user_id(&id)?;
    let u = reg.accounts.get_user(&ctx, id).await?;
    reg.accounts
        .update_user_profile(
            &ctx,
            id,
            req.email.as_deref().unwrap_or(&u.email),
            req.realname.as_deref().unwrap_or(&u.realname),
            req.comment.as_deref().unwrap_or(&u.comment),
        )
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn delete(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    reg.accounts.delete_user(&ctx, user_id(&id)?).await?;
    Ok(StatusCode::OK.into_response())
}

#[derive(Debug, Deserialize)]
pub struct PasswordReq {
    #[serde(default)]
    old_password: Option<String>,
    #[serde(default)]
    new_password: String,
}

pub async fn password(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Path(id): Path<String>,
    body: Result<HarborJson<PasswordReq>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    reg.accounts
        .change_password(
            &ctx,
            user_id(&id)?,
            req.old_password.as_deref(),
            &req.new_password,
        )
        .await?;
    Ok(StatusCode::OK.into_response())
}

#[derive(Debug, Deserialize)]
pub struct SysadminReq {
    /// Absent means false, as Go's decoder leaves it.
    #[serde(default)]
    sysadmin_flag: bool,
}

pub async fn sysadmin(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Path(id): Path<String>,
    body: Result<HarborJson<SysadminReq>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    reg.accounts
        .set_sysadmin(&ctx, user_id(&id)?, req.sysadmin_flag)
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /users/current/permissions?scope=/project/{id}&relative=…`.
pub async fn current_permissions(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    current_id(&ctx.principal)?;
    let scope = params.get("scope").map(String::as_str).unwrap_or("/");
    let relative = super::params::flag(&params, "relative", false)?;
    let mut out = Vec::new();
    if let Some(id) = scope.strip_prefix("/project/") {
        let project = reg.access.find_project(&ctx.principal, id, false).await?;
        let access = reg.access.access_to(&ctx.principal, &project).await?;
        for perm in portcullis_core::rbac::project_permissions() {
            if access.can(perm.resource, perm.action) {
                let resource = if relative {
                    perm.resource.to_string()
                } else {
                    format!("{scope}/{}", perm.resource)
                };
                out.push(serde_json::json!({ "resource": resource, "action": perm.action }));
            }
        }
    } else if ctx.principal.is_sysadmin() {
        for perm in portcullis_core::rbac::system_permissions() {
            out.push(serde_json::json!({ "resource": perm.resource, "action": perm.action }));
        }
    }
    Ok(Json(out).into_response())
}
