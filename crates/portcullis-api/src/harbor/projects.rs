//! `/api/v2.0/projects`: Harbor's project API.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_core::ProjectPolicies;
use portcullis_core::Registry;
use portcullis_core::policy::allowlist::AllowlistInput;
use portcullis_meta::{CveAllowlist, Project, ProjectQuery};
use portcullis_types::ErrorCode;
use serde::Deserialize;

use super::HarborJson;
use super::{Acting, Paging, harbor_time, is_name};
use crate::error::{ApiError, ApiResult};

/// Harbor's project JSON.
pub(super) fn project_json(
    p: &Project,
    owner_name: Option<&str>,
    allowlist: Option<&CveAllowlist>,
) -> serde_json::Value {
    let allowlist = match allowlist {
        Some(l) => super::policy::allowlist_json(l),
        // Never set: an empty list of the project's, as Harbor shows it.
        None => serde_json::json!({
            "id": 0,
            "project_id": p.id.0,
            "items": [],
            "creation_time": harbor_time(p.creation_time),
            "update_time": harbor_time(p.update_time),
        }),
    };
    serde_json::json!({
        "project_id": p.id.0,
        "name": p.name,
        "owner_id": p.owner_id.0,
        "owner_name": owner_name.unwrap_or(""),
        "creation_time": harbor_time(p.creation_time),
        "update_time": harbor_time(p.update_time),
        "deleted": false,
        "repo_count": p.repo_count,
        "togglable": true,
        "metadata": p.metadata,
        "cve_allowlist": allowlist,
    })
}

pub(super) async fn owner_names(reg: &Registry, projects: &[Project]) -> HashMap<i64, String> {
    let mut names = HashMap::new();
    for p in projects {
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(p.owner_id.0)
            && let Ok(Some(u)) = reg.meta.users().get_user(p.owner_id).await
        {
            e.insert(u.username);
        }
    }
    names
}

/// Harbor's `q` query: `key=value` (exact) or `key=~value` (fuzzy), comma separated.
fn apply_q(q: &str, query: &mut ProjectQuery) -> ApiResult<()> {
    for part in q.split(',').filter(|s| !s.trim().is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| {
            ApiError::new(ErrorCode::BadRequest, format!("invalid query {part:?}"))
        })?;
        let (fuzzy, v) = match v.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, v),
        };
        match k.trim() {
            "name" if fuzzy => query.name_contains = Some(v.to_string()),
            "name" => query.name_exact = Some(v.to_string()),
            "public" => query.public = Some(super::params::go_bool("public", v)?),
            "owner" => query.owner = Some(v.to_string()),
            other => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("unsupported query key {other:?}"),
                ));
            }
        }
    }
    Ok(())
}

pub async fn list(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let paging = Paging::from_params(&params)?;
    // Every project is listed with its details; the flag is only checked.
    super::params::flag(&params, "with_detail", true)?;
    let mut query = ProjectQuery::default();
    if let Some(q) = params.get("q") {
        apply_q(q, &mut query)?;
    }
    if let Some(n) = params.get("name").filter(|s| !s.is_empty()) {
        query.name_contains = Some(n.clone());
    }
    if let Some(v) = params.get("public").filter(|s| !s.is_empty()) {
        query.public = Some(super::params::go_bool("public", v)?);
    }
    if let Some(o) = params.get("owner").filter(|s| !s.is_empty()) {
        query.owner = Some(o.clone());
    }
    let (projects, total) = reg
        .projects
        .list_projects(&ctx, query, paging.page, paging.page_size)
        .await?;
    let owners = owner_names(&reg, &projects).await;
    let mut body = Vec::with_capacity(projects.len());
    for x in &projects {
        let allowlist = reg.policy.project_allowlist(x.id).await?;
        body.push(project_json(
            x,
            owners.get(&x.owner_id.0).map(String::as_str),
            allowlist.as_ref(),
        ));
    }
    let mut resp = Json(body).into_response();
    let extra = super::kept_query(&params, &["name", "public", "owner", "q"]);
    paging.headers(&mut resp, "/api/v2.0/projects", &extra, total);
    Ok(resp)
}

#[derive(Debug, Deserialize)]
pub struct ProjectReq {
    project_name: Option<String>,
    #[serde(default)]
    public: Option<bool>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    storage_limit: Option<i64>,
    #[serde(default)]
    cve_allowlist: Option<AllowlistInput>,
    /// A proxy-cache project's upstream registry: not built yet, so refused, never
    /// silently turned into a plain project.
    #[serde(default)]
    registry_id: Option<i64>,
}

fn refuse_proxy_cache(req: &ProjectReq) -> ApiResult<()> {
    match req.registry_id {
        Some(id) if id != 0 => Err(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "registry_id {id}: proxy-cache projects are not supported yet; create the project without registry_id"
            ),
        )),
        _ => Ok(()),
    }
}

pub async fn create(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    body: Result<HarborJson<ProjectReq>, ApiError>,
) -> ApiResult<Response> {
    let req = super::json_body(body)?;
    refuse_proxy_cache(&req)?;
    let name = req
        .project_name
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "project_name is required"))?;
    if let Some(limit) = req.storage_limit
        && limit < -1
    {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "storage_limit must be -1 (unlimited) or a size in bytes",
        ));
    }
    let metadata = req.metadata.unwrap_or_default();
    let policies = ProjectPolicies {
        storage_limit: req.storage_limit,
        cve_allowlist: req.cve_allowlist,
    };
    let created = reg
        .projects
        .create_project(
            &ctx,
            &name,
            req.public.unwrap_or(false),
            &metadata,
            &policies,
        )
        .await;
    if let Ok(c) = &created {
        reg.audit.action(
            &ctx.audit_actor(),
            "create",
            "project",
            &name,
            Some(c.id.0),
            true,
        );
    }
    let created = created?;
    let by_name = headers
        .get("x-resource-name-in-location")
        .and_then(|v| v.to_str().ok())
        .map(|v| super::params::go_bool("X-Resource-Name-In-Location", v))
        .transpose()?
        .unwrap_or(false);
    let location_id = if by_name {
        created.name.to_string()
    } else {
        created.id.0.to_string()
    };
    let mut resp = StatusCode::CREATED.into_response();
    resp.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&format!("/api/v2.0/projects/{}", location_id))
            .map_err(portcullis_core::Error::internal)?,
    );
    Ok(resp)
}

pub async fn head(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let name = params
        .get("project_name")
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "project_name is required"))?;
    reg.access.find_project(&ctx.principal, name, true).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn get_one(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let project = reg
        .access
        .find_project(&ctx.principal, &id, is_name(&headers))
        .await?;
    let owners = owner_names(&reg, std::slice::from_ref(&project)).await;
    let allowlist = reg.policy.project_allowlist(project.id).await?;
    Ok(Json(project_json(
        &project,
        owners.get(&project.owner_id.0).map(String::as_str),
        allowlist.as_ref(),
    ))
    .into_response())
}

pub async fn update(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<HarborJson<ProjectReq>, ApiError>,
) -> ApiResult<Response> {
    let req = super::json_body(body)?;
    refuse_proxy_cache(&req)?;
    let project = reg
        .access
        .find_project(&ctx.principal, &id, is_name(&headers))
        .await?;
    let mut metadata = req.metadata.unwrap_or_default();
    if let Some(public) = req.public {
        metadata
            .entry("public".into())
            .or_insert_with(|| public.to_string());
    }
    let policies = ProjectPolicies {
        storage_limit: None,
        cve_allowlist: req.cve_allowlist,
    };
    reg.projects
        .update_project(&ctx, &project, &metadata, &policies)
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn delete(
    State(reg): State<Arc<Registry>>,
    Acting(ctx): Acting,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let project = reg
        .access
        .find_project(&ctx.principal, &id, is_name(&headers))
        .await?;
    reg.projects.delete_project(&ctx, &project).await?;
    Ok(StatusCode::OK.into_response())
}
