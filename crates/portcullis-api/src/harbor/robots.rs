//! `/api/v2.0/robots`: Harbor's v2 robot accounts, and `/api/v2.0/permissions`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::Registry;
use portcullis_core::robots::RobotRequest;
use portcullis_meta::Robot;
use portcullis_meta::RobotScope;
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::{Paging, UserActing, harbor_time, json_body};
use crate::error::{ApiError, ApiResult};

fn robot_json(r: &Robot) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "level": r.level,
        "duration": r.duration,
        "disable": r.disabled,
        "editable": true,
        "expires_at": r.expires_at.map_or(-1, |t| t.unix_timestamp()),
        "permissions": r.permissions,
        "creator_type": "local",
        "creator_ref": 0,
        "creation_time": harbor_time(r.creation_time),
        "update_time": harbor_time(r.update_time),
    })
}

fn robot_id(s: &str) -> ApiResult<i64> {
    s.parse()
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "the robot id must be an integer"))
}

/// `q=Level=project,ProjectID=3,name=~ci`: which robots, and a name filter.
fn robot_filters(q: Option<&String>) -> ApiResult<(RobotScope, Option<String>)> {
    let (mut level, mut project, mut name) = (None, None, None);
    for part in q.into_iter().flat_map(|q| q.split(',')) {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "ProjectID" | "project_id" => {
                project = Some(v.parse::<i64>().map_err(|_| {
                    ApiError::new(ErrorCode::BadRequest, "ProjectID must be an integer")
                })?)
            }
            "Level" | "level" => match v {
                "system" | "project" => level = Some(v.to_string()),
                other => {
                    return Err(ApiError::new(
                        ErrorCode::BadRequest,
                        format!("invalid Level {other:?}: use system or project"),
                    ));
                }
            },
            "name" | "Name" => name = Some(v.trim_start_matches('~').to_string()),
            other => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("unsupported query key {other:?}"),
                ));
            }
        }
    }
    let scope = match (level.as_deref(), project) {
        (Some("system"), Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "system robots belong to no project: drop ProjectID or use Level=project",
            ));
        }
        (Some("system"), None) => RobotScope::System,
        (_, Some(p)) => RobotScope::Project(portcullis_meta::ProjectId(p)),
        (Some(_), None) => RobotScope::AnyProject,
        (None, None) => RobotScope::All,
    };
    Ok((scope, name))
}

pub async fn list(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&params)?;
    let (scope, name) = robot_filters(params.get("q"))?;
    let (robots, total) = reg
        .accounts
        .list_robots(&ctx, scope, name.as_deref(), paging.page, paging.page_size)
        .await?;
    let mut resp = Json(robots.iter().map(robot_json).collect::<Vec<_>>()).into_response();
    paging.headers(
        &mut resp,
        "/api/v2.0/robots",
        &super::kept_query(&params, &["q", "sort"]),
        total,
    );
    Ok(resp)
}

pub async fn create(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    body: Result<HarborJson<RobotRequest>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    let (robot, secret) = reg.accounts.create_robot(&ctx, req).await?;
    let body = serde_json::json!({
        "id": robot.id,
        "name": robot.name,
        "secret": secret,
        "creation_time": harbor_time(robot.creation_time),
        "expires_at": robot.expires_at.map_or(-1, |t| t.unix_timestamp()),
    });
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v2.0/robots/{}", robot.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let robot = reg.accounts.robot_for(&ctx, robot_id(&id)?, "read").await?;
    Ok(Json(robot_json(&robot)).into_response())
}

pub async fn update(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Path(id): Path<String>,
    body: Result<HarborJson<RobotRequest>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    reg.accounts.update_robot(&ctx, robot_id(&id)?, req).await?;
    Ok(StatusCode::OK.into_response())
}

#[derive(Debug, Deserialize)]
pub struct SecretReq {
    #[serde(default)]
    secret: Option<String>,
}

pub async fn refresh(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Path(id): Path<String>,
    body: Result<HarborJson<SecretReq>, ApiError>,
) -> ApiResult<Response> {
    let req = json_body(body)?;
    let secret = reg
        .accounts
        .refresh_robot_secret(&ctx, robot_id(&id)?, req.secret)
        .await?;
    Ok(Json(serde_json::json!({ "secret": secret })).into_response())
}

pub async fn delete(
    State(reg): State<Arc<Registry>>,
    UserActing(ctx): UserActing,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    reg.accounts.delete_robot(&ctx, robot_id(&id)?).await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /api/v2.0/permissions`: what robots may be given, at system and project level.
pub async fn permissions(UserActing(ctx): UserActing) -> ApiResult<Response> {
    if !matches!(&ctx.principal, portcullis_core::Principal::User(_)) {
        return Err(ApiError::new(ErrorCode::HarborUnauthorized, "UnAuthorized"));
    }
    let list = |v: Vec<portcullis_core::rbac::Permission>| -> Vec<serde_json::Value> {
        v.iter()
            .map(|x| serde_json::json!({ "resource": x.resource, "action": x.action }))
            .collect()
    };
    Ok(Json(serde_json::json!({
        "system": list(portcullis_core::rbac::system_permissions()),
        "project": list(portcullis_core::rbac::project_permissions()),
    }))
    .into_response())
}
